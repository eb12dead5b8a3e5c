#!/bin/bash
# test_restore.sh: prove a backup restores, after the operations guide's test_restore.sh.
#
# The backup is restored into a scratch workspace with its own embedded NATS server and
# SQLite database (whatever NATS_URL, DATABASE_URL or HOLODECK_* the shell holds is
# ignored; the artifact store is the backed-up deployment's), checked with `holodeck debug health`, `holodeck session info` and
# `holodeck session list` (which starts that embedded server and reads the restored
# stream), then removed. The backup is already encrypted (AES-256-GCM, key from
# BACKUP_PASSWORD): no openssl step.
#
# Usage:   BACKUP_PASSWORD=... deploy/test_restore.sh [BACKUP_FILE]
#          (default /backup/holodeck/latest.hbk, which backup.sh keeps up to date)
# Options: HOLODECK (the command, default holodeck).
set -euo pipefail

: "${BACKUP_PASSWORD:?set BACKUP_PASSWORD: the key of the backup is derived from it}"
BACKUP_FILE=${1:-/backup/holodeck/latest.hbk}
read -r -a HOLODECK_CMD <<< "${HOLODECK:-holodeck}"

# The artifact store the backed-up deployment used (its settings travel in the backup)
SUMMARY=$("${HOLODECK_CMD[@]}" backup verify --json "$BACKUP_FILE")
STORE=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["settings"]["storage"]["artifact_store"])' <<< "$SUMMARY")

# A test environment of its own
TEST_DIR=$(mktemp -d "${TMPDIR:-/tmp}/restore_test.XXXXXX")
trap 'rm -rf "$TEST_DIR"' EXIT
while read -r name; do
    unset "$name"
done < <(compgen -e | grep -E '^(HOLODECK|HOLDECK)_|^(NATS_URL|DATABASE_URL)$' || true)
export HOLODECK_WORKSPACE="$TEST_DIR/workspace"
export HOLODECK_ARTIFACT_STORE="$STORE"

# Restore
"${HOLODECK_CMD[@]}" restore "$BACKUP_FILE"

# Check
"${HOLODECK_CMD[@]}" debug health
"${HOLODECK_CMD[@]}" session info
"${HOLODECK_CMD[@]}" session list --limit 100
echo "restore test passed: $BACKUP_FILE"
