/// One libFuzzer target: a name (`make fuzz` and `dlserve-fuzz` select it by
/// name, its seed corpus is `Fuzz/corpus/NAME/`) and a function that feeds
/// one input to a parser and says whether it was accepted (true) or refused
/// with an error (false). A refusal is the parser doing its job; a crash, a
/// leak, a hang or an allocation past libFuzzer's limit is a finding.
public struct FuzzTarget: Sendable {
    public var name: String
    public var summary: String
    public var run: @Sendable ([UInt8]) -> Bool

    public init(_ name: String, _ summary: String, run: @escaping @Sendable ([UInt8]) -> Bool) {
        (self.name, self.summary, self.run) = (name, summary, run)
    }
}

/// Every fuzz target, in the order `make fuzz` runs them.
public enum FuzzTargets {
    public static let all: [FuzzTarget] = [
        CheckpointTargets.safetensors,
        CheckpointTargets.modelJSON,
        CheckpointTargets.configJSON,
        CheckpointTargets.recipe,
        RequestTargets.v2Infer,
        RequestTargets.taskBody,
        ImageTarget.image,
        TextTargets.tokenizers,
        TextTargets.bpeFiles,
        GalleryTarget.records,
    ]

    public static func named(_ name: String) -> FuzzTarget? { all.first { $0.name == name } }
}

/// Reads selector bytes off the front of an input, the rest being the payload:
/// lets one target choose among parsers (and media types) from the input itself,
/// so libFuzzer explores the choices as it explores the bytes.
struct FuzzInput {
    private(set) var bytes: ArraySlice<UInt8>

    init(_ bytes: [UInt8]) { self.bytes = bytes[...] }

    /// The next byte (0 when the input is used up).
    mutating func byte() -> UInt8 {
        guard let b = bytes.first else { return 0 }
        bytes = bytes.dropFirst()
        return b
    }

    /// A choice among `count` options.
    mutating func choose(_ count: Int) -> Int { Int(byte()) % count }

    /// A 16-bit little-endian number.
    mutating func uint16() -> Int { Int(byte()) | Int(byte()) << 8 }

    /// The bytes up to (not including) the first `separator`, which is consumed;
    /// nil (and nothing consumed) when there is none.
    mutating func prefix(upTo separator: [UInt8]) -> [UInt8]? {
        guard let found = bytes.firstRange(of: separator) else { return nil }
        let head = Array(bytes[..<found.lowerBound])
        bytes = bytes[found.upperBound...]
        return head
    }

    /// Everything left.
    var rest: [UInt8] { Array(bytes) }
}
