#!/bin/bash
# backup.sh: a backup of a Holodeck deployment, after the operations guide's backup.sh.
#
# `holodeck backup` reads everything through the JetStream API (NATS_URL, else the
# workspace's embedded server): the event stream, the artifact object store, the cache,
# scene-state and idempotency buckets, local artifact files, and the settings with
# secrets redacted. The file it writes is already encrypted and authenticated
# (AES-256-GCM, key derived with scrypt from BACKUP_PASSWORD), so the guide's
# `openssl enc` step is not needed, and no tar or pg_dump either: the gateway's
# database is rebuilt from the stream on restore.
#
# Usage:   BACKUP_PASSWORD=... deploy/backup.sh              a full backup
#          BACKUP_PASSWORD=... deploy/backup.sh --incremental  what came after the last one
# In BACKUP_DIR, latest.hbk links to the newest full backup and last.hbk to the newest
# of any kind (what the next incremental continues). Restore a full backup, then the
# incremental ones made after it, in order.
# Options: BACKUP_DIR (default /backup/holodeck), RETENTION_DAYS (default 30),
#          HOLODECK (the command, default holodeck).
set -euo pipefail

: "${BACKUP_PASSWORD:?set BACKUP_PASSWORD: the backup is encrypted with a key derived from it}"
BACKUP_DIR=${BACKUP_DIR:-/backup/holodeck}
RETENTION_DAYS=${RETENTION_DAYS:-30}
read -r -a HOLODECK_CMD <<< "${HOLODECK:-holodeck}"
DATE=$(date -u +%Y%m%d_%H%M%S)

KIND=full
SINCE=()
case "${1:-}" in
    "") ;;
    --incremental)
        KIND=incremental
        [ -e "$BACKUP_DIR/last.hbk" ] || { echo "error: no earlier backup in $BACKUP_DIR" >&2; exit 2; }
        SINCE=(--incremental-since "$BACKUP_DIR/last.hbk") ;;
    *) echo "usage: backup.sh [--incremental]" >&2; exit 2 ;;
esac
mkdir -p "$BACKUP_DIR"
FILE="$BACKUP_DIR/holodeck_${KIND}_$DATE.hbk"

"${HOLODECK_CMD[@]}" backup --out "$FILE" "${SINCE[@]}"
"${HOLODECK_CMD[@]}" backup verify "$FILE"

# The newest full backup is what test_restore.sh restores by default.
if [ "$KIND" = full ]; then
    ln -sfn "$(basename "$FILE")" "$BACKUP_DIR/latest.hbk"
fi
ln -sfn "$(basename "$FILE")" "$BACKUP_DIR/last.hbk"

# Old backups removed (the link to the newest full one is never older than it).
find "$BACKUP_DIR" -name 'holodeck_*.hbk' -mtime +"$RETENTION_DAYS" -delete
echo "$FILE"
