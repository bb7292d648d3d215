import Foundation

/// A `BPEModel` on disk, as it ships inside a model version: two UTF-8 files
/// named `NAME.vocab.txt` and `NAME.merges.txt` (NAME is `bpe` for a shared
/// vocabulary; see `TranslationSubwords`).
///
/// - `NAME.vocab.txt`: one token a line in id order, the layout of
///   `BPEModel` (`<pad>`, `<unk>`, `<bos>`, `<eos>`, the 256 byte tokens with
///   byte fallback, the alphabet, the merged tokens). `Vocabulary.load` reads
///   it too.
/// - `NAME.merges.txt`: a header line `#dlserve-bpe version=1 unknown=bytes`
///   (or `unknown=unk` without byte fallback), then one merge a line in rank
///   order: the two tokens separated by one space.
///
/// Loading checks both and throws a `BPEError` naming the file and line.
/// Writing is atomic per file (a temporary file in the same folder, renamed).
extension BPEModel {
    public static let header = "#dlserve-bpe version=1"

    public static func vocabularyURL(in directory: URL, name: String) -> URL {
        directory.appendingPathComponent("\(name).vocab.txt")
    }

    public static func mergesURL(in directory: URL, name: String) -> URL {
        directory.appendingPathComponent("\(name).merges.txt")
    }

    /// `NAME.merges.txt`'s contents.
    public var mergesFileContents: String {
        var s = "\(Self.header) unknown=\(byteFallback ? "bytes" : "unk")\n"
        for (l, r) in mergeStrings { s += "\(l) \(r)\n" }
        return s
    }

    /// Writes `NAME.vocab.txt` and `NAME.merges.txt` in `directory`.
    public func write(to directory: URL, name: String = "bpe") throws {
        try Self.writeAtomically(vocabulary.fileContents, to: Self.vocabularyURL(in: directory, name: name))
        try Self.writeAtomically(mergesFileContents, to: Self.mergesURL(in: directory, name: name))
    }

    /// Reads and checks `NAME.vocab.txt` and `NAME.merges.txt` in `directory`.
    public static func load(from directory: URL, name: String = "bpe") throws(BPEError) -> BPEModel {
        let vocabURL = vocabularyURL(in: directory, name: name)
        let mergesURL = mergesURL(in: directory, name: name)
        func read(_ url: URL, _ part: BPEError.Part) throws(BPEError) -> Data {
            guard let data = FileManager.default.contents(atPath: url.path) else {
                throw BPEError(part: part, file: url.lastPathComponent, line: nil, "cannot read \(url.path)")
            }
            return data
        }
        return try parse(vocabulary: try read(vocabURL, .vocabulary), merges: try read(mergesURL, .merges),
                         vocabularyFile: vocabURL.lastPathComponent, mergesFile: mergesURL.lastPathComponent)
    }

    /// Checks the two files' contents; errors name `vocabularyFile` or `mergesFile` and the line.
    public static func parse(vocabulary: Data, merges: Data, vocabularyFile: String = "bpe.vocab.txt",
                             mergesFile file: String = "bpe.merges.txt") throws(BPEError) -> BPEModel {
        let tokens = try lines(of: vocabulary, file: vocabularyFile, part: .vocabulary)
        let mergeLines = try lines(of: merges, file: file, part: .merges)
        guard let first = mergeLines.first, first.hasPrefix(header + " unknown=") else {
            throw BPEError(part: .merges, file: file, line: 1, "expected the header '\(header) unknown=bytes' (or unknown=unk)")
        }
        let byteFallback: Bool
        switch first.dropFirst(header.count + " unknown=".count) {
        case "bytes": byteFallback = true
        case "unk": byteFallback = false
        default: throw BPEError(part: .merges, file: file, line: 1, "unknown= must be bytes or unk")
        }
        var merges: [(String, String)] = []
        for (i, line) in mergeLines.enumerated().dropFirst() {
            let parts = line.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw BPEError(part: .merges, file: file, line: i + 1, "expected two tokens separated by one space, got '\(line)'")
            }
            merges.append((String(parts[0]), String(parts[1])))
        }
        do {
            return try BPEModel(tokens: tokens, merges: merges, byteFallback: byteFallback)
        } catch {
            var e = error
            e.file = e.part == .vocabulary ? vocabularyFile : file
            if e.part == .merges, let l = e.line { e.line = l + 1 }  // the header is line 1
            throw e
        }
    }

    static func lines(of data: Data, file: String, part: BPEError.Part) throws(BPEError) -> [String] {
        guard let text = String(validatingUTF8Data: data) else {
            throw BPEError(part: part, file: file, line: nil, "not valid UTF-8")
        }
        if let cr = text.utf8.firstIndex(of: 13) {
            let line = text.utf8[..<cr].filter { $0 == 10 }.count + 1
            throw BPEError(part: part, file: file, line: line, "carriage return (files use \\n line ends)")
        }
        var lines = text.components(separatedBy: "\n")
        guard lines.last == "" else {
            throw BPEError(part: part, file: file, line: lines.count, "the last line has no newline (truncated file?)")
        }
        lines.removeLast()
        return lines
    }

    /// Writes `text` to a temporary file beside `url`, then renames it over `url`.
    static func writeAtomically(_ text: String, to url: URL) throws {
        let tmp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp")
        try Data(text.utf8).write(to: tmp)
        guard rename(tmp.path, url.path) == 0 else {
            let code = errno
            try? FileManager.default.removeItem(at: tmp)
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: url.path, "errno": code])
        }
    }
}

extension String {
    /// The text of `data` when it is valid UTF-8, else nil.
    init?(validatingUTF8Data data: Data) {
        var ok = true
        var it = data.makeIterator()
        var decoder = UTF8()
        loop: while true {
            switch decoder.decode(&it) {
            case .scalarValue: continue
            case .emptyInput: break loop
            case .error: ok = false; break loop
            }
        }
        guard ok else { return nil }
        self = String(decoding: data, as: UTF8.self)
    }
}
