#!/usr/bin/env bash
# Prints the path of a Python >= 3.11 to build the virtualenv with, preferring the Lambda
# runtime's 3.12/3.13. pyenv shims answer for versions that are installed but not active,
# so each candidate is tried, not just looked up.
set -u
candidates=(python3.12 python3.13 python3.11 python3)
if command -v pyenv >/dev/null 2>&1; then
  root=$(pyenv root)
  for v in 3.13 3.12; do
    for p in "$root"/versions/"$v"*/bin/python"$v"; do [ -x "$p" ] && candidates=("$p" "${candidates[@]}"); done
  done
fi
for c in "${candidates[@]}"; do
  if "$c" -c 'import sys; assert sys.version_info >= (3, 11)' >/dev/null 2>&1; then
    "$c" -c 'import sys; print(sys.executable)'
    exit 0
  fi
done
echo "error: Python 3.11 or newer is required" >&2
exit 1
