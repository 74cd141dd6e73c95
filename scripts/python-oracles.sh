#!/usr/bin/env bash
# Makes a Python venv holding the official Paynow SDK (PyPI `paynow`), used by the clients'
# tests as an independent oracle of Paynow's wire format and hash, and the unofficial EcoCash Open API
# package (PyPI `ecocash`), an independent reading of EcoCash's field names, and `kent` (PyPI), a
# fake Sentry server that scripts/kent.sh runs for the hub's error-tracking test.
#
#   eval "$(scripts/python-oracles.sh)"   # prints: export ONECLASS_TEST_PAYNOW_PYTHON=<venv>/bin/python
#                                         #         export ONECLASS_TEST_ECOCASH_PYTHON=<venv>/bin/python
#
# Idempotent: an existing venv with the SDK is reused.
set -euo pipefail

VENV="${ONECLASS_PY_VENV:-/tmp/oneclass-py-oracles}"
PAYNOW_VERSION="${ONECLASS_PAYNOW_SDK_VERSION:-1.0.8}"
ECOCASH_VERSION="${ONECLASS_ECOCASH_VERSION:-0.0.6}"
KENT_VERSION="${ONECLASS_KENT_VERSION:-2.2.0}"
PYTHON="${PYTHON:-python3}"

if ! "$VENV/bin/python" -c 'import paynow' 2>/dev/null; then
  echo "python-oracles.sh: creating $VENV with paynow==$PAYNOW_VERSION" >&2
  "$PYTHON" -m venv "$VENV" >&2
  "$VENV/bin/pip" install -q --disable-pip-version-check "paynow==$PAYNOW_VERSION" >&2
fi
if ! "$VENV/bin/python" -c 'import ecocash' 2>/dev/null; then
  echo "python-oracles.sh: adding ecocash==$ECOCASH_VERSION to $VENV" >&2
  "$VENV/bin/pip" install -q --disable-pip-version-check "ecocash==$ECOCASH_VERSION" >&2
fi
if ! "$VENV/bin/python" -c 'import kent' 2>/dev/null; then
  echo "python-oracles.sh: adding kent==$KENT_VERSION to $VENV" >&2
  "$VENV/bin/pip" install -q --disable-pip-version-check "kent==$KENT_VERSION" >&2
fi
"$VENV/bin/python" -c 'import paynow' >&2
"$VENV/bin/python" -c 'import ecocash' >&2
"$VENV/bin/python" -c 'import kent' >&2
echo "export ONECLASS_TEST_PAYNOW_PYTHON=$VENV/bin/python"
echo "export ONECLASS_TEST_ECOCASH_PYTHON=$VENV/bin/python"
