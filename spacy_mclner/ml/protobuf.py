"""The protobuf wire format, as far as sentencepiece model files need it, without the protobuf package.

Both the offline encoder's conversion (encoders.py) and vocabulary trimming
(vocab_trim.py) write sentencepiece ModelProto files; a dependency on protobuf for
a few varints is not worth its weight.
"""
from dataclasses import dataclass
from typing import Iterator, Tuple

LENGTH_DELIMITED = 2


@dataclass(frozen=True)
class Field:
    """One field of a serialised message: its number, the payload of a length-delimited
    field (else its raw value bytes), and the field's whole encoding, to copy it unchanged."""

    number: int
    wire_type: int
    payload: bytes
    encoded: bytes


def varint(value: int) -> bytes:
    if value < 0x80:  # nearly every call: one byte
        return bytes((value,))
    out = bytearray()
    while value:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
    return bytes(out)


def read_varint(data: bytes, pos: int) -> Tuple[int, int]:
    """The varint at `pos`, and the position after it."""
    value = shift = 0
    while True:
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos, shift = pos + 1, shift + 7
        if not byte & 0x80:
            return value, pos


def len_field(number: int, payload: bytes) -> bytes:
    """A length-delimited field."""
    return varint(number << 3 | LENGTH_DELIMITED) + varint(len(payload)) + payload


def fields(message: bytes) -> Iterator[Field]:
    """The fields of a serialised message, in order."""
    pos = 0
    while pos < len(message):
        start = pos
        key, pos = read_varint(message, pos)
        wire_type = key & 7
        if wire_type == LENGTH_DELIMITED:
            length, pos = read_varint(message, pos)
            value_start, pos = pos, pos + length
        elif wire_type == 0:
            value_start = pos
            _, pos = read_varint(message, pos)
        elif wire_type in (1, 5):
            value_start, pos = pos, pos + (8 if wire_type == 1 else 4)
        else:
            raise ValueError(f"unexpected protobuf wire type {wire_type}")
        if pos > len(message):
            raise ValueError("truncated protobuf message")
        yield Field(key >> 3, wire_type, message[value_start:pos], message[start:pos])


def get_len_field(message: bytes, number: int) -> bytes:
    """The payload of the first length-delimited field `number` of a serialised message."""
    for field in fields(message):
        if field.number == number and field.wire_type == LENGTH_DELIMITED:
            return field.payload
    raise ValueError(f"protobuf field {number} not found")
