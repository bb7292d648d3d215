import DLTensor
import DLTrain
import DLVision
import Foundation

/// A detection split on disk in the format `make data-detection` writes
/// (split.json + PNG files): `count` 32 x 32 scenes, noisy dark background,
/// red squares ("red", class 0) and tall green bars ("green", class 1) at
/// seeded places. Small enough to train on in a test.
public enum ToyDetectionData {
    public static let classes = ["red", "green"]

    @discardableResult
    public static func write(to dir: URL, count: Int, seed: UInt64 = 7, file: String = "split.json") throws -> URL {
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("images"), withIntermediateDirectories: true)
        var rng = SeededGenerator(seed: seed)
        func int(_ range: ClosedRange<Int>) -> Int { range.lowerBound + Int(rng.next() % UInt64(range.count)) }
        var entries: [[String: Any]] = []
        for i in 0..<count {
            var px = (0..<(32 * 32 * 3)).map { _ in UInt8(20 + rng.uniform() * 40) }
            var objects: [[String: Any]] = []
            for k in 0..<int(1...2) {
                let label = (i + k) % 2
                let (w, h) = label == 0 ? (int(7...10), 0) : (int(5...7), int(11...14))
                let height = label == 0 ? w : h
                let x = k == 0 ? int(0...(15 - w)) : int(16...(31 - w)), y = int(0...(31 - height))
                for yy in y..<(y + height) {
                    for xx in x..<(x + w) {
                        px[(yy * 32 + xx) * 3 + 0] = label == 0 ? 230 : 30
                        px[(yy * 32 + xx) * 3 + 1] = label == 0 ? 40 : 220
                    }
                }
                objects.append(["label": label, "box": [x, y, x + w, y + height]])
            }
            let name = String(format: "images/%03d.png", i)
            try ImageEncoder.png(Image(width: 32, height: 32, channels: 3, pixels: px)).write(to: dir.appendingPathComponent(name))
            entries.append(["file": name, "width": 32, "height": 32, "objects": objects])
        }
        let url = dir.appendingPathComponent(file)
        try JSONSerialization.data(withJSONObject: ["classes": classes, "images": entries], options: [.sortedKeys]).write(to: url)
        return url
    }

    /// A detection recipe for the toy data: 32 x 32 input, stride 8, two
    /// anchors, three small convolutions; `data` the recipe's data section.
    public static func recipe(name: String, data: [String: Any], epochs: Int = 3, seed: Int = 3) -> Data {
        func conv(_ n: String, _ input: String, _ c: Any, _ k: Int) -> [String: Any] {
            ["name": n, "type": "conv2d", "inputs": [input], "attrs": ["out_channels": c, "kernel_size": k, "padding": k / 2]]
        }
        let layers: [[String: Any]] = [
            conv("c1", "image", 8, 3), ["name": "a1", "type": "leaky_relu", "inputs": ["c1"], "attrs": ["slope": 0.1]],
            ["name": "p1", "type": "max_pool2d", "inputs": ["a1"], "attrs": ["kernel_size": 2]],
            conv("c2", "p1", 16, 3), ["name": "a2", "type": "leaky_relu", "inputs": ["c2"], "attrs": ["slope": 0.1]],
            ["name": "p2", "type": "max_pool2d", "inputs": ["a2"], "attrs": ["kernel_size": 4]],
            conv("head", "p2", "$head_channels", 1),
        ]
        let r: [String: Any] = [
            "name": name, "task": "detection", "data": data, "input": ["width": 32, "height": 32], "head": ["stride": 8, "anchors": 2],
            "model": ["inputs": [["name": "image", "shape": [3, 32, 32]]], "outputs": ["head"], "layers": layers],
            "optimizer": ["lr": 0.005, "warmup_steps": 2], "batch_size": 4, "epochs": epochs, "seed": seed,
        ]
        return try! JSONSerialization.data(withJSONObject: r, options: [.sortedKeys])
    }
}
