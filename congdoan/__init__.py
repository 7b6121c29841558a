"""Công đoàn số: the digital platform of the Vietnamese trade unions."""
