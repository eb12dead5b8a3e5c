"""The backup file format without a server: frames, keys, the start of an incremental
backup and the settings kept."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from shared import backup as backup_module
from shared.backup import BackupInvalid, Since, WrongPassword, _frames, _FrameWriter


def sealed(chunks: list[bytes], password: str = "pw") -> bytes:
    out = io.BytesIO()
    writer = _FrameWriter(out, password)
    for chunk in chunks:
        writer.write(chunk)
    writer.close()
    return out.getvalue()


def opened(data: bytes, password: str = "pw") -> bytes:
    return b"".join(_frames(io.BytesIO(data), password, "test.hbk"))


def test_frames_give_back_what_was_written(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backup_module, "FRAME_BYTES", 100)
    chunks = [bytes(range(256)) * 3, b"", b"tail"]
    data = sealed(chunks)
    assert opened(data) == b"".join(chunks)
    frame = backup_module._FRAME.size + 100 + backup_module.TAG_BYTES
    # 772 bytes: seven full frames and a last one of 72.
    assert len(data) == backup_module._HEADER.size + 7 * frame + frame - 28


def test_a_wrong_password_is_told_apart_from_damage() -> None:
    data = sealed([b"secret scene"])
    with pytest.raises(WrongPassword, match="wrong BACKUP_PASSWORD"):
        opened(data, "other")
    damaged = bytearray(data)
    damaged[-1] ^= 0x80
    with pytest.raises(BackupInvalid, match="fails authentication at frame 0"):
        opened(bytes(damaged))


def test_a_file_cut_after_a_whole_frame_is_truncated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backup_module, "FRAME_BYTES", 16)
    data = sealed([b"x" * 40])
    frame = backup_module._FRAME.size + 16 + backup_module.TAG_BYTES
    cut = data[: backup_module._HEADER.size + 2 * frame]
    with pytest.raises(BackupInvalid, match="truncated"):
        opened(cut)
    with pytest.raises(BackupInvalid, match="after its last frame"):
        opened(data + b"\0")


def test_not_a_backup_is_named() -> None:
    with pytest.raises(BackupInvalid, match="is not a Holodeck backup"):
        opened(b"PK\x03\x04 a zip file, say")


def test_since_accepts_a_sequence_or_a_time_and_names_anything_else() -> None:
    assert Since.parse("42").seq == 42
    when = Since.parse("2026-01-31T02:00:00Z").time
    assert when is not None and when.utcoffset() is not None
    with pytest.raises(backup_module.BadInput, match="neither a stream sequence"):
        Since.parse("yesterday")
    with pytest.raises(backup_module.BadInput, match="nor a backup file"):
        Since.parse("/no/such/backup.hbk")


def test_since_a_backup_file(tmp_path: Path) -> None:
    earlier = tmp_path / "full.hbk"
    earlier.write_bytes(b"")
    assert Since.parse(str(earlier)).after == earlier


def test_secrets_are_redacted_from_the_settings_kept() -> None:
    kept = backup_module.redacted(
        {
            "llm": {"api_key": "sk-1", "model": "m"},
            "gateway": {"database_url": "postgresql+asyncpg://u:pw@db:5432/holodeck"},
            "three_d_generation": {"sf3d_api_key": None},
        }
    )
    assert kept["llm"] == {"api_key": "***", "model": "m"}
    assert kept["gateway"]["database_url"] == "postgresql+asyncpg://***@db:5432/holodeck"
    assert kept["three_d_generation"]["sf3d_api_key"] is None
