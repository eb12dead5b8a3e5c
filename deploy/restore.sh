#!/bin/bash
# restore.sh: restore a Holodeck backup, after the operations guide's restore.sh.
#
# The backup file is already encrypted (AES-256-GCM, key from BACKUP_PASSWORD): there is
# no `openssl enc -d` and no tar step. `holodeck restore` checks the whole file first
# (every frame and every sum) and writes nothing if the password is wrong or the file
# was altered; it restores into an empty deployment (pass --force to replace what one
# holds), then rebuilds the gateway's database from the restored stream.
#
# Stop the services before restoring, as the guide does (the restore refuses a stream
# services are reading): give the commands in STOP_COMMAND and START_COMMAND, e.g.
#   STOP_COMMAND="docker compose stop planner imagegen meshgen assembly gateway"
#   START_COMMAND="docker compose start planner imagegen meshgen assembly gateway"
#
# Usage:   BACKUP_PASSWORD=... deploy/restore.sh BACKUP_FILE [--force]
# Options: HOLODECK (the command, default holodeck).
set -euo pipefail

: "${BACKUP_PASSWORD:?set BACKUP_PASSWORD: the key of the backup is derived from it}"
BACKUP_FILE=${1:?usage: restore.sh BACKUP_FILE [--force]}
shift
read -r -a HOLODECK_CMD <<< "${HOLODECK:-holodeck}"

if [ -n "${STOP_COMMAND:-}" ]; then
    $STOP_COMMAND
fi

"${HOLODECK_CMD[@]}" restore "$BACKUP_FILE" "$@"

if [ -n "${START_COMMAND:-}" ]; then
    $START_COMMAND
fi

"${HOLODECK_CMD[@]}" debug health
