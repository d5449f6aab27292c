"""Parsing ``/rrd_updates`` into typed series: both formats, special values, and bad documents."""

from __future__ import annotations

import math

import pytest

from xorca.xapi.client.rrd import RrdFormatError, SeriesKey, parse_legend_entry, parse_rrd_updates

HOST = "792070ed-eee3-4d71-9a4d-d8637936ce53"
VM = "0c1d8d35-2b53-4bb1-9c6e-1d1f8b0fa0a1"

JSON = (
    b'{"meta":{"start":1000,"step":5,"end":1010,"rows":3,"columns":3,'
    b'"legend":["AVERAGE:host:'
    + HOST.encode()
    + b':cpu0","AVERAGE:vm:'
    + VM.encode()
    + b':memory",'
    b'"AVERAGE:vm:' + VM.encode() + b':cpu_usage"]},'
    b'"data":[{"t":1010,"values":["0.0282","2147483648","NaN"]},'
    b'{"t":1005,"values":["0.5","Infinity","-Infinity"]},'
    b'{"t":1000,"values":["1e-3","0.0","0.25"]}]}'
)

XML = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<xport><meta><start>1000</start><step>5</step>'
    b"<end>1010</end><rows>3</rows><columns>3</columns><legend>"
    b"<entry>AVERAGE:host:" + HOST.encode() + b":cpu0</entry>"
    b"<entry>AVERAGE:vm:" + VM.encode() + b":memory</entry>"
    b"<entry>AVERAGE:vm:" + VM.encode() + b":cpu_usage</entry></legend></meta><data>"
    b"<row><t>1010</t><v>0.0282</v><v>2147483648</v><v>NaN</v></row>"
    b"<row><t>1005</t><v>0.5</v><v>Infinity</v><v>-Infinity</v></row>"
    b"<row><t>1000</t><v>1e-3</v><v>0.0</v><v>0.25</v></row></data></xport>"
)


@pytest.mark.parametrize(("body", "content_type"), [(JSON, "application/json"), (XML, "text/xml")])
def test_both_formats_give_the_same_series_oldest_first(body: bytes, content_type: str) -> None:
    for ctype in (content_type, ""):  # the first byte decides when the type says nothing
        updates = parse_rrd_updates(body, ctype)
        assert (updates.start, updates.end, updates.step) == (1000, 1010, 5)
        cpu = SeriesKey("AVERAGE", "host", HOST, "cpu0")
        assert updates.series[cpu] == [(1000, 0.001), (1005, 0.5), (1010, 0.0282)]
        memory = updates.series[SeriesKey("AVERAGE", "vm", VM, "memory")]
        assert memory[0] == (1000, 0.0) and memory[1] == (1005, math.inf)
        usage = updates.series[SeriesKey("AVERAGE", "vm", VM, "cpu_usage")]
        assert usage[1][1] == -math.inf and math.isnan(usage[2][1])
        assert set(updates.of(VM)) == {
            SeriesKey("AVERAGE", "vm", VM, "memory"),
            SeriesKey("AVERAGE", "vm", VM, "cpu_usage"),
        }
        assert updates.latest(cpu) == 0.0282
        assert math.isnan(updates.latest(SeriesKey("MIN", "host", HOST, "cpu0")))


def test_pre_23_31_json_with_bare_tokens_and_keys() -> None:
    legacy = (
        b"{meta: {start: 1000, step: 5, end: 1005, rows: 2, columns: 1,"
        b' legend: ["MAX:sr:abc:io_throughput_read"]},'
        b" data: [{t: 1005, values: [NaN]}, {t: 1000, values: [Infinity]}]}"
    )
    updates = parse_rrd_updates(legacy, "application/json")
    points = updates.series[SeriesKey("MAX", "sr", "abc", "io_throughput_read")]
    assert points[0] == (1000, math.inf) and math.isnan(points[1][1])


def test_legend_entries() -> None:
    assert parse_legend_entry("AVERAGE:vm:u:vbd_xvda_read") == SeriesKey(
        "AVERAGE", "vm", "u", "vbd_xvda_read"
    )
    assert str(SeriesKey("MIN", "host", "u", "cpu1")) == "MIN:host:u:cpu1"
    for bad in ("AVERAGE:vm:u", "AVERAGE::u:cpu0", ""):
        with pytest.raises(RrdFormatError):
            parse_legend_entry(bad)


@pytest.mark.parametrize(
    "body",
    [
        JSON[:60],  # truncated
        b"\xff" + JSON,  # not UTF-8
        b"[]",
        b'{"meta":{"start":1,"step":5,"end":1,"legend":["AVERAGE:host:h:cpu0"]},"data":'
        b'[{"t":1,"values":["1","2"]}]}',  # more values than columns
        b'{"meta":{"start":1,"step":5,"end":1,"legend":["AVERAGE:host:h:cpu0"]},"data":'
        b'[{"t":1,"values":["fast"]}]}',  # not a number
        b'{"meta":{"start":"soon","step":5,"end":1,"legend":[]},"data":[]}',
        b'{"meta":{"start":1,"step":5,"end":1,"legend":[7]},"data":[]}',
        b'{"meta":{"start":1,"step":true,"end":1,"legend":[]},"data":[]}',
        b"<xport><meta><start>1</start></meta><data><row><t>1</t><v>1</v></row></data>",
        b"<rrd><version>0003</version></rrd>",
        b"<xport><data/></xport>",
        b'<!DOCTYPE x [<!ENTITY a "aaaa">]><xport/>',
        b"<?xml version='1.0' encoding='UTF-8'?><xport><meta><start>\xff</start></meta></xport>",
    ],
)
def test_bad_documents_are_format_errors(body: bytes) -> None:
    with pytest.raises(RrdFormatError):
        parse_rrd_updates(body)
