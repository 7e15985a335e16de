#!/bin/bash
# Rebase, typecheck+lint, then land; if main moved meanwhile, re-rebase and land only when the new
# main commits touch none of this branch's files (so the check still holds).
set -uo pipefail
cd /work/wt-harden-proxy
git rebase main >/dev/null || { echo "rebase conflict"; exit 1; }
base=$(git rev-parse main)
npx tsc -p tsconfig.json || { echo "tsc failed"; exit 1; }
npx eslint . >/dev/null || { echo "eslint failed"; exit 1; }
mine=$(git diff --name-only "$base" HEAD)
for i in 1 2 3 4 5 6; do
  (cd /work/main && git merge --ff-only harden-proxy >/dev/null 2>&1) && { echo "landed on attempt $i"; exit 0; }
  new=$(git rev-parse main)
  theirs=$(git diff --name-only "$base" "$new")
  overlap=$(comm -12 <(echo "$mine" | sort) <(echo "$theirs" | sort))
  if [ -n "$overlap" ]; then echo "main touched my files: $overlap"; exit 1; fi
  git rebase main >/dev/null || { echo "rebase conflict"; exit 1; }
  base=$new
  sleep 1
done
echo "gave up"; exit 1
