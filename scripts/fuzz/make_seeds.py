#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora, Fuzz/corpus/TARGET/ (checked in).

Seeds named ok-* are inputs the target must accept, bad-* inputs it must
refuse with an error (FuzzCorpusTests asserts both); every seed and every
file of Fuzz/regressions/TARGET/ (crashes fuzzing found, now refused) must
run without crashing. Inputs follow each target's layout (see
Sources/DLFuzzTargets): a selector byte for task-body and tokenizers, a
2-byte length for v2-infer and bpe-files.
"""
import base64
import glob
import json
import os
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "Fuzz", "corpus")


def write(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def read(path):
    with open(os.path.join(ROOT, path), "rb") as f:
        return f.read()


def safetensors(tensors, metadata=None):
    """tensors: name -> (dtype, shape, bytes), in the reference layout."""
    header, offset, data = {}, 0, b""
    for name in sorted(tensors):
        dtype, shape, raw = tensors[name]
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        data += raw
    if metadata:
        header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data


def f32(n, v=0.5):
    return struct.pack("<%df" % n, *([v] * n))


# The fuzz target's model: conv1 [4,1,3,3] (+ bias), bn1 (4 channels), fc [3, 4*4*4] (+ bias).
LENET = {
    "conv1.weight": ("F32", [4, 1, 3, 3], f32(36)),
    "conv1.bias": ("F32", [4], f32(4)),
    "bn1.weight": ("F32", [4], f32(4, 1.0)),
    "bn1.bias": ("F32", [4], f32(4, 0.0)),
    "bn1.running_mean": ("F32", [4], f32(4, 0.0)),
    "bn1.running_var": ("F32", [4], f32(4, 1.0)),
    "fc.weight": ("F32", [3, 64], f32(192)),
    "fc.bias": ("F32", [3], f32(3)),
}


def seeds_safetensors():
    write("safetensors", "ok-lenet", safetensors(LENET, {"format": "pt"}))
    half = dict(LENET)
    half["fc.weight"] = ("F16", [3, 64], struct.pack("<192e", *([0.25] * 192)))
    half["conv1.weight"] = ("BF16", [4, 1, 3, 3], b"\x80\x3f" * 36)
    write("safetensors", "ok-lenet-f16-bf16", safetensors(half))
    wrong = dict(LENET)
    wrong["fc.weight"] = ("F32", [64, 3], f32(192))
    write("safetensors", "bad-shape", safetensors(wrong))
    write("safetensors", "bad-truncated", safetensors(LENET)[:-5])
    write("safetensors", "bad-empty-header", struct.pack("<Q", 2) + b"{}")
    write("safetensors", "bad-overlap", struct.pack("<Q", 88) +
          b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'[:88] + b"\0" * 4)


def seeds_models():
    for i, path in enumerate(sorted(glob.glob(os.path.join(ROOT, "models/*/*/model.json")))):
        data = open(path, "rb").read()
        if len(data) < 64 << 10:
            write("model-json", "ok-" + path.split("models/")[1].replace("/", "-"), data)
    write("model-json", "bad-unknown-attribute", json.dumps({"format": "dlserve-model/1", "inputs": [{"name": "input", "shape": [4]}],
                                                              "layers": [{"name": "d", "type": "dropout", "inputs": ["input"], "attrs": {"p": 0.5}}],
                                                              "outputs": ["d"]}))
    write("model-json", "bad-huge-integer", json.dumps({"format": "dlserve-model/1", "inputs": [{"name": "input", "shape": [4]}],
                                                         "layers": [{"name": "fc", "type": "dense", "inputs": ["input"], "attrs": {"units": 1e300}}],
                                                         "outputs": ["fc"]}))
    write("model-json", "bad-unknown-layer", json.dumps({"format": "dlserve-model/1", "inputs": [{"name": "input", "shape": [4]}],
                                                          "layers": [{"name": "x", "type": "warp", "inputs": ["input"]}], "outputs": ["x"]}))
    for path in sorted(glob.glob(os.path.join(ROOT, "models/*/config.json"))):
        write("config-json", "ok-" + path.split("models/")[1].split("/")[0], open(path, "rb").read())
    write("config-json", "bad-no-labels", json.dumps({"name": "m", "labels": [], "input": {"shape": [1, 28, 28]}}))
    for path in sorted(glob.glob(os.path.join(ROOT, "recipes/*.json"))):
        write("recipe", "ok-" + os.path.basename(path)[:-5], open(path, "rb").read())
    write("recipe", "bad-unknown-field", json.dumps({"name": "x", "optimizer": {"learning_rate": 0.1}}))


def seeds_v2():
    def body(obj, binary=b""):
        j = json.dumps(obj).encode()
        return struct.pack("<H", 0xFFFF if not binary else len(j)) + j + binary

    write("v2-infer", "ok-fp32", body({"id": "r1", "inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [0, 0.5, 1, 2]}]}))
    write("v2-infer", "ok-nested-uint8", body({"inputs": [{"name": "image", "shape": [2, 2], "datatype": "UINT8", "data": [[0, 255], [3, 4]]}],
                                                "outputs": [{"name": "probabilities"}]}))
    write("v2-infer", "ok-bytes", body({"inputs": [{"name": "text", "shape": [2], "datatype": "BYTES", "data": ["I loved it.", "Dull."]}]}))
    write("v2-infer", "ok-binary-fp32", body({"inputs": [{"name": "input", "shape": [2], "datatype": "FP32",
                                                          "parameters": {"binary_data_size": 8}}]}, struct.pack("<2f", 1.5, -2)))
    write("v2-infer", "ok-binary-bytes", body({"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES",
                                                           "parameters": {"binary_data_size": 7}}]}, struct.pack("<I", 3) + b"abc"))
    write("v2-infer", "bad-count", body({"inputs": [{"name": "input", "shape": [3], "datatype": "FP32", "data": [1, 2]}]}))
    write("v2-infer", "bad-int-range", body({"inputs": [{"name": "input", "shape": [1], "datatype": "INT8", "data": [300]}]}))


def seeds_bodies():
    png = read("Tests/DLVisionTests/Fixtures/fmnist-0.png")
    jpg = read("Tests/DLVisionTests/Fixtures/fmnist-0.jpg")
    b64 = base64.b64encode(png).decode()
    tasks = ["classify", "detect", "verify", "embed", "sentiment", "translate", "nearest", "analogy", "debias", "faces"]

    def req(task, content_type, query, body):
        return bytes([tasks.index(task)]) + content_type.encode() + b"\n" + query.encode() + b"\n" + (body if isinstance(body, bytes) else body.encode())

    def multipart(parts, boundary="XyZ"):
        out = b""
        for name, filename, data in parts:
            disp = 'form-data; name="%s"' % name + ('; filename="%s"' % filename if filename else "")
            out += b"--" + boundary.encode() + b"\r\nContent-Disposition: " + disp.encode() + b"\r\n\r\n" + data + b"\r\n"
        return out + b"--" + boundary.encode() + b"--\r\n"

    write("task-body", "ok-classify-png", req("classify", "image/png", "top_k=3", png))
    write("task-body", "ok-classify-json", req("classify", "application/json", "", json.dumps({"image": b64})))
    write("task-body", "ok-classify-pixels", req("classify", "application/json", "", json.dumps({"pixels": [[0, 255], [17, 3]]})))
    write("task-body", "ok-detect-png", req("detect", "image/png", "score_threshold=0.3&iou_threshold=0.5", png))
    write("task-body", "ok-detect-json", req("detect", "application/json", "", json.dumps({"image": b64, "classes": ["Bag"], "max_detections": 10})))
    write("task-body", "ok-verify-json", req("verify", "application/json", "", json.dumps({"a": b64, "b": b64})))
    write("task-body", "ok-verify-multipart", req("verify", "multipart/form-data; boundary=XyZ", "",
                                                   multipart([("a", "a.png", png), ("b", "b.jpg", jpg)])))
    write("task-body", "ok-embed-jpeg", req("embed", "image/jpeg", "", jpg))
    write("task-body", "ok-sentiment", req("sentiment", "application/json", "", json.dumps({"text": "A gorgeous, witty, seductive movie."})))
    write("task-body", "ok-sentiment-texts", req("sentiment", "application/json", "", json.dumps({"texts": ["Dull and overlong.", "I loved it."]})))
    write("task-body", "ok-translate", req("translate", "application/json", "", json.dumps(
        {"text": "I like it.", "beam_width": 8, "n_best": 3, "reference": "Me gusta."})))
    write("task-body", "ok-translate-svg", req("translate", "application/json", "format=svg", json.dumps({"texts": ["The cat.", "A dog."]})))
    write("task-body", "ok-nearest", req("nearest", "application/json", "", json.dumps({"word": "frog", "k": 3})))
    write("task-body", "ok-analogy", req("analogy", "application/json", "", json.dumps({"a": "man", "b": "woman", "c": "king", "k": 2})))
    write("task-body", "ok-debias", req("debias", "application/json", "", json.dumps(
        {"bias_pairs": [["man", "woman"]], "neutralize": ["receptionist"], "equalize": [["boy", "girl"]]})))
    write("task-body", "ok-enroll-multipart", req("faces", 'multipart/form-data; boundary="b-1"', "",
                                                   multipart([("name", None, b"Ada"), ("image", "1.png", png), ("image", "2.jpg", jpg)], "b-1")))
    write("task-body", "ok-enroll-json", req("faces", "application/json", "", json.dumps({"name": "Bob", "images": [b64, b64]})))
    write("task-body", "bad-sentiment-unknown-field", req("sentiment", "application/json", "", json.dumps({"txt": "x"})))
    write("task-body", "bad-classify-text", req("classify", "text/plain", "", "hello"))
    write("task-body", "bad-multipart-unterminated", req("verify", "multipart/form-data; boundary=XyZ", "", b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nabc"))


def seeds_images():
    for path in sorted(glob.glob(os.path.join(ROOT, "Tests/DLVisionTests/Fixtures/*"))):
        name = os.path.basename(path)
        if name.endswith((".png", ".jpg")) and os.path.getsize(path) < 4096:
            ok = not name.startswith(("corrupt", "bomb"))
            write("image", ("ok-" if ok else "bad-") + name, open(path, "rb").read())


def seeds_text():
    sentences = ["The cat is on the table.", "Don't stop — it's 3.14 km away!", "naïve café, 東京, emoji 🎉",
                 "A gorgeous, witty, seductive movie.", "  spaces\tand\nnewlines  "]
    for mode in range(6):
        for i, s in enumerate(sentences[:3] if mode != 3 else ["\x05\x00\x10\x00\xff\xff\x03\x00"]):
            write("tokenizers", "ok-mode%d-%d" % (mode, i), bytes([mode]) + (s.encode() if mode != 5 else (s + "\n" + sentences[i + 1]).encode()))
    alphabet = ["\u2581", "t", "h", "e", "c", "a", "s"]
    merges = [("\u2581", "t"), ("h", "e"), ("\u2581t", "he"), ("a", "t")]
    vocab = ["<pad>", "<unk>", "<bos>", "<eos>"] + alphabet + ["\u2581t", "he", "\u2581the", "at"]
    v = ("\n".join(vocab) + "\n").encode()
    m = ("#dlserve-bpe version=1 unknown=unk\n" + "".join("%s %s\n" % p for p in merges)).encode()
    write("bpe-files", "ok-small-unk", struct.pack("<H", len(v)) + v + m)
    vb = ("\n".join(["<pad>", "<unk>", "<bos>", "<eos>"] + ["<0x%02X>" % b for b in range(256)] + alphabet + ["\u2581t", "he", "\u2581the", "at"]) + "\n").encode()
    mb = m.replace(b"unknown=unk", b"unknown=bytes")
    write("bpe-files", "ok-small-bytes", struct.pack("<H", len(vb)) + vb + mb)
    write("bpe-files", "bad-merge-unknown-token", struct.pack("<H", len(v)) + v + m + b"q z\n")
    write("bpe-files", "bad-no-header", struct.pack("<H", len(v)) + v + b"t h\n")


def seeds_gallery():
    def val(kind, raw):
        return bytes([kind, len(raw)]) + raw

    vec16 = struct.pack("<16f", *([0.25] * 16))
    row = lambda name, vec: (val(3, name) + val(2, struct.pack(">d", 1.5)) + val(4, b"\x89PNG") + val(3, b"image/png") + val(1, b"\x01") + val(4, vec))
    write("gallery-record", "ok-two-rows", b"\x00" + row(b"Ada", vec16) + row(b"Bob", vec16[:-4] + struct.pack("<f", -1)))
    write("gallery-record", "ok-wrong-dim-skipped", b"\x00" + row(b"Ada", vec16[:8]))
    write("gallery-record", "ok-pair-classifier", b"\x02" + row(b"Ada", struct.pack("<4f", 1, 2, 3, 4)))
    write("gallery-record", "bad-null-name", b"\x00" + val(0, b"") + val(2, b"\0" * 8) + val(4, b"x") + val(3, b"image/png") + val(1, b"\x01") + val(4, vec16))


if __name__ == "__main__":
    seeds_safetensors()
    seeds_models()
    seeds_v2()
    seeds_bodies()
    seeds_images()
    seeds_text()
    seeds_gallery()
    for d in sorted(os.listdir(OUT)):
        print("%-16s %3d seeds" % (d, len(os.listdir(os.path.join(OUT, d)))))
