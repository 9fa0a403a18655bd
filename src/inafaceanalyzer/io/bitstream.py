"""What H.264 and HEVC packets say about decoding dependencies, for sparse decoding.

Sparse decoding (:mod:`inafaceanalyzer.io.sparse`) asks three questions of the
packets of a stream, through ``_Bitstream.of(stream)``:

``startable(key, has_leading)``
    Whether decoding may start at a keyframe packet and give exact frames
    from it on in presentation order: an H.264 IDR picture or a recovery
    point SEI with ``recovery_frame_cnt`` 0 and ``exact_match_flag``, an
    HEVC IRAP picture (BLA, IDR, CRA); for other codecs, any keyframe (the
    container's word) of a GOP without leading frames, or with leading
    frames that no later frame refers to (codecs whose B-frames are never
    references).

``disposable(packet)``
    Whether no other frame refers to the frame in a packet, so that it may
    be left undecoded when it is not kept: H.264 slices all with
    ``nal_ref_idc`` 0, HEVC sub-layer non-reference pictures of the highest
    temporal layer, with nothing else in the packet but access unit
    delimiters, filler and SEI messages that only describe their own frame.
    Never for other codecs.

``has_parameter_sets(packet)``
    Whether a packet carries parameter sets that later frames may need.

NAL units are read length-prefixed (``avcC``/``hvcC`` extradata) or between
Annex B start codes. A packet that does not parse is never disposable nor a
point where decoding may start, and is taken to carry parameter sets.
"""

from __future__ import annotations

from av.packet import Packet
from av.video.stream import VideoStream

__all__: list[str] = []  # the rules are for io.sparse only

#: SEI payload types that only describe the frame they come with (timing,
#: captions, HDR metadata, recovery points...), allowed in skipped packets.
#: Film grain (19) is not: it changes the pixels of later frames.
_HARMLESS_SEI = frozenset({0, 1, 2, 3, 4, 5, 6, 45, 47, 128, 129, 132, 136, 137, 144, 147})

#: Codecs whose B-frames are never references: trailing frames never depend on
#: leading ones, so decoding may start at any keyframe.
_NON_REFERENCE_B = frozenset({"mpeg1video", "mpeg2video", "mpeg4", "msmpeg4v3", "h263", "h263p", "flv1"})


class _Bitstream:
    """What packets say about decoding dependencies; the rules for any codec.

    Decoding may start at any keyframe (the container's word) of a GOP
    without leading frames, or with leading frames that no later frame
    refers to; no packet is known to be a non-reference frame.
    """

    def __init__(self, codec: str) -> None:
        self.codec = codec

    @staticmethod
    def of(stream: VideoStream) -> _Bitstream:
        codec = stream.codec_context.name
        extradata = bytes(stream.codec_context.extradata or b"")
        if codec == "h264":
            return _H264(extradata)
        if codec == "hevc":
            return _Hevc(extradata)
        return _Bitstream(codec)

    def startable(self, key: Packet, has_leading: bool) -> bool:
        """Whether decoding from ``key`` gives exact frames from it on in presentation order."""
        return not has_leading or self.codec in _NON_REFERENCE_B

    def disposable(self, packet: Packet) -> bool:
        """Whether no other frame refers to the frame in ``packet``."""
        return False

    def has_parameter_sets(self, packet: Packet) -> bool:
        """Whether ``packet`` carries parameter sets (possibly needed by later frames)."""
        return False


class _NalBitstream(_Bitstream):
    """H.264 and HEVC: NAL units, length-prefixed (``avcC``/``hvcC`` extradata) or Annex B."""

    header_size = 1

    def __init__(self, codec: str, length_size: int) -> None:
        super().__init__(codec)
        self.length_size = length_size  # 0: Annex B start codes

    def units(self, packet: Packet) -> list[bytes] | list[memoryview] | None:
        """The NAL units of a packet (views into it when length-prefixed), or ``None`` if it does not parse."""
        if not self.length_size:
            return _annex_b_units(bytes(packet), self.header_size) or None
        data = memoryview(packet)
        units: list[memoryview] = []
        pos, size = 0, self.length_size
        while pos < len(data):
            length = int.from_bytes(data[pos : pos + size], "big")
            pos += size
            if length < self.header_size or pos + length > len(data):
                return None
            units.append(data[pos : pos + length])
            pos += length
        return units or None

    @staticmethod
    def sei_messages(payload: bytes | memoryview) -> list[tuple[int, bytes]] | None:
        """The ``(type, body)`` messages of an SEI NAL unit's payload, or ``None`` if it does not parse."""
        rbsp = bytes(payload).replace(b"\0\0\3", b"\0\0")  # remove emulation prevention bytes
        messages: list[tuple[int, bytes]] = []
        pos = 0
        while rbsp[pos:].rstrip(b"\0") not in (b"\x80", b""):  # more_rbsp_data()
            values = []
            for _ in range(2):  # payload type, payload size: runs of 0xFF, then a last byte
                value = 0
                while pos < len(rbsp) and rbsp[pos] == 0xFF:
                    value, pos = value + 255, pos + 1
                if pos >= len(rbsp):
                    return None
                values.append(value + rbsp[pos])
                pos += 1
            kind, size = values
            if pos + size > len(rbsp):
                return None
            messages.append((kind, rbsp[pos : pos + size]))
            pos += size
        return messages

    def harmless_sei(self, payload: bytes | memoryview) -> bool:
        messages = self.sei_messages(payload)
        return messages is not None and all(kind in _HARMLESS_SEI for kind, _ in messages)


def _annex_b_units(data: bytes, header_size: int) -> list[bytes]:
    """NAL units between ``00 00 01`` start codes (trailing zero bytes dropped)."""
    units = []
    start = data.find(b"\0\0\1")
    while start >= 0:
        following = data.find(b"\0\0\1", start + 3)
        unit = data[start + 3 : following if following >= 0 else len(data)].rstrip(b"\0")
        if len(unit) >= header_size:
            units.append(unit)
        start = following
    return units


class _H264(_NalBitstream):
    """H.264: ``nal_ref_idc`` says which frames are references; IDR and recovery points start decoding."""

    def __init__(self, extradata: bytes) -> None:
        avcc = len(extradata) >= 5 and extradata[0] == 1  # as FFmpeg tells avcC from Annex B
        super().__init__("h264", (extradata[4] & 3) + 1 if avcc else 0)

    def startable(self, key: Packet, has_leading: bool) -> bool:
        """An IDR picture, or a recovery point SEI with ``recovery_frame_cnt`` 0 and ``exact_match_flag``."""
        units = self.units(key)
        if units is None:
            return False
        for unit in units:
            kind = unit[0] & 31
            if kind == 5:
                return True
            if kind == 6:
                for sei, body in self.sei_messages(unit[1:]) or ():
                    if sei == 6 and body and body[0] & 0xC0 == 0xC0:  # ue(v) 0, then exact_match_flag 1
                        return True
        return False

    def disposable(self, packet: Packet) -> bool:
        """Slices all with ``nal_ref_idc`` 0, with nothing else than harmless SEI, delimiters, filler."""
        units = self.units(packet)
        if units is None:
            return False
        slices = False
        for unit in units:
            header = unit[0]
            kind = header & 31
            if 1 <= kind <= 4:  # slices and data partitions of non-IDR pictures
                if header & 0x60:
                    return False
                slices = True
            elif kind == 6:
                if not self.harmless_sei(unit[1:]):
                    return False
            elif kind not in (9, 12):  # access unit delimiter, filler
                return False
        return slices

    def has_parameter_sets(self, packet: Packet) -> bool:
        units = self.units(packet)
        return units is None or any(unit[0] & 31 in (7, 8, 13, 15) for unit in units)


class _Hevc(_NalBitstream):
    """HEVC: sub-layer non-reference pictures of the highest temporal layer; IRAP pictures start decoding."""

    header_size = 2

    def __init__(self, extradata: bytes) -> None:
        annex_b = extradata[:3] == b"\0\0\1" or extradata[:4] == b"\0\0\0\1"
        hvcc = len(extradata) >= 23 and not annex_b
        super().__init__("hevc", (extradata[21] & 3) + 1 if hvcc else 0)
        layers = (extradata[21] >> 3) & 7 if hvcc else 0  # numTemporalLayers, 0: unknown
        if annex_b:  # sps_max_sub_layers_minus1 of the first SPS
            for unit in _annex_b_units(extradata, self.header_size):
                if (unit[0] >> 1) & 63 == 33 and len(unit) > 2:
                    layers = ((unit[2] >> 1) & 7) + 1
                    break
        self.top_layer = layers - 1 if layers else None

    def startable(self, key: Packet, has_leading: bool) -> bool:
        """An IRAP picture (BLA, IDR, CRA): no trailing picture refers to its leading ones."""
        units = self.units(key)
        kinds = [(unit[0] >> 1) & 63 for unit in units or ()]
        slices = [kind for kind in kinds if kind < 32]
        return bool(slices) and all(16 <= kind <= 23 for kind in slices)

    def disposable(self, packet: Packet) -> bool:
        """Sub-layer non-reference slices of the top temporal layer, with harmless SEI, delimiters, filler."""
        units = self.units(packet)
        if units is None or self.top_layer is None:
            return False
        slices = False
        for unit in units:
            kind, layer, temporal = (unit[0] >> 1) & 63, ((unit[0] & 1) << 5) | (unit[1] >> 3), (unit[1] & 7) - 1
            if layer:
                return False
            if kind < 32:
                if kind > 14 or kind % 2 or temporal != self.top_layer:
                    return False
                slices = True
            elif kind in (39, 40):
                if not self.harmless_sei(unit[2:]):
                    return False
            elif kind not in (35, 38):  # access unit delimiter, filler
                return False
        return slices

    def has_parameter_sets(self, packet: Packet) -> bool:
        units = self.units(packet)
        return units is None or any((unit[0] >> 1) & 63 in (32, 33, 34) for unit in units)
