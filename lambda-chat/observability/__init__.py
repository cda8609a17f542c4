"""What the functions measure about their answers (CloudWatch embedded metric format)."""
