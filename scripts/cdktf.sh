#!/usr/bin/env bash
# `npm run synth` / `npm run deploy`: the cdktf CLI without the error lines a first
# command should not print. The CLI reads both settings only from its own environment,
# so neither main.ts nor cdktf.json can set them.
#  - CHECKPOINT_DISABLE=1: no call to HashiCorp's checkpoint service, which prints
#    "[ERROR] ... ENOTFOUND checkpoint-api.hashicorp.com" where it cannot be reached.
#  - A TF_CLI_CONFIG_FILE that names a missing file makes the CLI print "[ERROR] There are
#    some problems with the CLI configuration" for every stack; Terraform then uses its
#    defaults anyway, so the variable is dropped for this command, with a note saying so.
set -euo pipefail
export CHECKPOINT_DISABLE=1
if [ -n "${TF_CLI_CONFIG_FILE:-}" ] && [ ! -e "$TF_CLI_CONFIG_FILE" ]; then
  echo "note: TF_CLI_CONFIG_FILE=$TF_CLI_CONFIG_FILE does not exist; using Terraform's defaults for this command" >&2
  unset TF_CLI_CONFIG_FILE
fi
exec npx --no-install cdktf "$@"
