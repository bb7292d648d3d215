import DLFuzzTargets
import Foundation

// Built two ways (scripts/fuzz.sh):
// - for fuzzing, with `--sanitize=fuzzer --sanitize=address -Xswiftc -DFUZZING`:
//   libFuzzer's main drives `LLVMFuzzerTestOneInput`, the target named by
//   DLSERVE_FUZZ_TARGET;
// - plainly (every `swift build`): `dlserve-fuzz TARGET FILE...` runs files
//   through a target and says which threw, to replay a crash or list targets.

nonisolated(unsafe) private var selected: FuzzTarget?

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<CInt>?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?) -> CInt {
    let name = ProcessInfo.processInfo.environment["DLSERVE_FUZZ_TARGET"] ?? ""
    if name == "list" {
        print(FuzzTargets.all.map(\.name).joined(separator: "\n"))
        exit(0)
    }
    guard let target = FuzzTargets.named(name) else {
        FileHandle.standardError.write(Data("DLSERVE_FUZZ_TARGET must name a target: \(FuzzTargets.all.map(\.name).joined(separator: ", "))\n".utf8))
        exit(2)
    }
    selected = target
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = size == 0 || data == nil ? [] : Array(UnsafeBufferPointer(start: data, count: size))
    _ = selected?.run(bytes)
    return 0
}

#if !FUZZING
@main
struct Replay {
    static func main() {
        let args = Array(CommandLine.arguments.dropFirst())
        guard let name = args.first, let target = FuzzTargets.named(name) else {
            print("usage: dlserve-fuzz TARGET FILE...\ntargets:")
            for t in FuzzTargets.all { print("  \(t.name.padding(toLength: 16, withPad: " ", startingAt: 0)) \(t.summary)") }
            exit(args.isEmpty ? 0 : 2)
        }
        for path in args.dropFirst() {
            guard let data = FileManager.default.contents(atPath: path) else {
                FileHandle.standardError.write(Data("cannot read \(path)\n".utf8))
                exit(1)
            }
            print("\(path): \(target.run(Array(data)) ? "accepted" : "refused")")
        }
    }
}
#endif
