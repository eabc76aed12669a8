#!/usr/bin/env python3
"""Writes the ONNX models of the CPU benchmark (PaddedAttention.CpuBench).

No onnx package is needed: a ModelProto is a handful of protobuf messages,
written here field by field (field numbers from onnx/onnx.proto). Every
model holds one node and no weights; batch and sequence are symbolic.

  gqa_<dtype>_h<Hq>kv<Hkv>_d<D>.onnx   com.microsoft.GroupQueryAttention
        query [B, S, Hq*D], key/value [B, S, Hkv*D], seqlens_k [B] int32
        (real length - 1, right padding), total_sequence_length [1] int32
        -> output [B, S, Hq*D]  (causal)
  attn_<dtype>_h<Hq>kv<Hkv>_d<D>.onnx  ai.onnx Attention (opset 23)
        Q [B, S, Hq*D], K/V [B, S, Hkv*D], attn_mask [B, 1, S, S] bool
        (true = attend) -> Y [B, S, Hq*D]

  python3 make_models.py [output_dir]   (default: the directory of this file)
"""
import os
import struct
import sys

FLOAT, INT32, BOOL, FLOAT16, BFLOAT16 = 1, 6, 9, 10, 16
ATTR_FLOAT, ATTR_INT = 1, 2
DTYPES = {"f32": FLOAT, "f16": FLOAT16, "bf16": BFLOAT16}


def varint(n):
    out = bytearray()
    n &= (1 << 64) - 1
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def key(field, wire):
    return varint(field << 3 | wire)


def f_varint(field, n):
    return key(field, 0) + varint(n)


def f_bytes(field, data):
    if isinstance(data, str):
        data = data.encode()
    return key(field, 2) + varint(len(data)) + data


def f_float(field, x):
    return key(field, 5) + struct.pack("<f", x)


def dim(d):  # TensorShapeProto.Dimension: dim_value = 1, dim_param = 2
    return f_bytes(2, d) if isinstance(d, str) else f_varint(1, d)


def value_info(name, elem_type, dims):
    shape = b"".join(f_bytes(1, dim(d)) for d in dims)            # TensorShapeProto.dim = 1
    tensor = f_varint(1, elem_type) + f_bytes(2, shape)            # elem_type = 1, shape = 2
    type_proto = f_bytes(1, tensor)                                # TypeProto.tensor_type = 1
    return f_bytes(1, name) + f_bytes(2, type_proto)               # name = 1, type = 2


def attribute(name, value):
    if isinstance(value, float):
        return f_bytes(1, name) + f_float(2, value) + f_varint(20, ATTR_FLOAT)
    return f_bytes(1, name) + f_varint(3, value) + f_varint(20, ATTR_INT)


def node(op_type, inputs, outputs, attrs, domain=""):
    msg = b"".join(f_bytes(1, i) for i in inputs) + b"".join(f_bytes(2, o) for o in outputs)
    msg += f_bytes(3, op_type.lower()) + f_bytes(4, op_type)
    msg += b"".join(f_bytes(5, attribute(k, v)) for k, v in attrs.items())
    if domain:
        msg += f_bytes(7, domain)
    return msg


def model(graph_nodes, inputs, outputs, opsets, name):
    graph = b"".join(f_bytes(1, n) for n in graph_nodes) + f_bytes(2, name)
    graph += b"".join(f_bytes(11, v) for v in inputs) + b"".join(f_bytes(12, v) for v in outputs)
    msg = f_varint(1, 11) + f_bytes(2, "PaddedAttention.CpuBench make_models.py")   # ir_version, producer
    msg += f_bytes(7, graph)
    for domain, version in opsets:                                 # OperatorSetIdProto
        msg += f_bytes(8, (f_bytes(1, domain) if domain else b"") + f_varint(2, version))
    return msg


def gqa(dtype, hq, hkv, d):
    t = DTYPES[dtype]
    n = node("GroupQueryAttention",
             ["query", "key", "value", "", "", "seqlens_k", "total_sequence_length"],
             ["output", "present_key", "present_value"],
             {"num_heads": hq, "kv_num_heads": hkv, "scale": float(d) ** -0.5}, domain="com.microsoft")
    ins = [value_info("query", t, ["B", "S", hq * d]), value_info("key", t, ["B", "S", hkv * d]),
           value_info("value", t, ["B", "S", hkv * d]), value_info("seqlens_k", INT32, ["B"]),
           value_info("total_sequence_length", INT32, [1])]
    outs = [value_info("output", t, ["B", "S", hq * d]),
            value_info("present_key", t, ["B", hkv, "S", d]), value_info("present_value", t, ["B", hkv, "S", d])]
    return model([n], ins, outs, [("", 23), ("com.microsoft", 1)], "gqa")


def attention(dtype, hq, hkv, d):
    t = DTYPES[dtype]
    n = node("Attention", ["Q", "K", "V", "attn_mask"], ["Y"],
             {"q_num_heads": hq, "kv_num_heads": hkv, "scale": float(d) ** -0.5, "is_causal": 0})
    ins = [value_info("Q", t, ["B", "S", hq * d]), value_info("K", t, ["B", "S", hkv * d]),
           value_info("V", t, ["B", "S", hkv * d]), value_info("attn_mask", BOOL, ["B", 1, "S", "S"])]
    outs = [value_info("Y", t, ["B", "S", hq * d])]
    return model([n], ins, outs, [("", 23)], "attention")


# (dtype, Hq, Hkv, D, causal) of the benchmark's cases; GroupQueryAttention is
# causal only, so the bidirectional case has no GQA model.
CONFIGS = [("f32", 8, 2, 128, True), ("f16", 8, 2, 128, True), ("bf16", 8, 2, 128, True),
           ("f32", 12, 12, 64, False), ("f32", 32, 8, 128, True)]


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    for dtype, hq, hkv, d, causal in CONFIGS:
        for prefix, make in (("gqa", gqa), ("attn", attention)):
            if prefix == "gqa" and not causal:
                continue
            path = os.path.join(out_dir, "%s_%s_h%dkv%d_d%d.onnx" % (prefix, dtype, hq, hkv, d))
            with open(path, "wb") as f:
                f.write(make(dtype, hq, hkv, d))
            print(path)


if __name__ == "__main__":
    main()
