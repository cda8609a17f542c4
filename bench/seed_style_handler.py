"""The seed's chat handler, for comparison in bench/lambda_overhead.py only.

It mirrors the original sample: a new boto3 client on every call, the event and
the model's answer printed, the payload built inline, no validation, and the
first and last characters of the answer chopped off. Do not deploy it.
"""
import json
import os
import time

import boto3

endpoint_name = os.environ.get('endpoint')


def lambda_handler(event, context):
    print(event)
    start = time.time()

    text = event['text']
    payload = {
        "inputs": text,
        "parameters": {
            "max_new_tokens": 512,
            "return_full_text": False,
            "do_sample": False,
            "temperature": 0.5,
            "repetition_penalty": 1.03,
            "top_p": 0.9,
            "top_k": 1,
            "stop": ["<|endoftext|>", "</s>"]
        }
    }

    client = boto3.client('runtime.sagemaker')
    try:
        response = client.invoke_endpoint(
            EndpointName=endpoint_name,
            ContentType='application/json',
            Body=json.dumps(payload).encode('utf-8'))
        print('response:', response)

        response_payload = json.loads(response['Body'].read())
        print('response_payload:', response_payload)
        msg = response_payload[0]['generated_text']
    except Exception:
        raise Exception("Not able to request to LLM")

    print('elapsed time: ', time.time() - start)
    return {
        'statusCode': 200,
        'msg': msg[1:len(msg) - 1],
    }
