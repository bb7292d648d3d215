import DLJobs
import DLNN
import DLServe
import DLServeTesting
import DLTasks
import DLTrain
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Faults on disk: a full disk and a read-only file system (a small tmpfs
/// mounted for the test) under model publishing, gallery writes and job
/// checkpoints, and a power cut between write and rename (strace kills the
/// process at its Nth rename). Nothing half-written is ever loaded, every
/// failure names its reason, and the daemon keeps serving.
///
/// Mounting needs root (CAP_SYS_ADMIN), as `make test` has on the CI machine;
/// elsewhere the tmpfs tests are skipped, naming why.
final class DiskFaultTests: XCTestCase {
    var disks: [ScratchDisk] = []

    override func tearDown() {
        for d in disks { d.unmount() }
    }

    func disk(kilobytes: Int) throws -> ScratchDisk {
        let d = try ScratchDisk(kilobytes: kilobytes)
        disks.append(d)
        return d
    }

    static let tiny = ModelSpec(inputShape: [1, 1, 3], layers: [
        LayerSpec(name: "flat", type: "flatten", inputs: ["input"]),
        LayerSpec(name: "fc", type: "dense", inputs: ["flat"], attrs: ["units": 3]),
    ], output: "fc")

    static func publishTiny(_ repo: ModelRepository, name: String = "m") throws -> Int {
        if (try? repo.config(of: name)) == nil {
            try repo.writeConfig(ModelConfig(name: name, labels: ["a", "b", "c"], input: .init(shape: [1, 1, 3])))
        }
        return try repo.publish(name: name, model: GraphModel(spec: tiny, seed: 3), metrics: ["accuracy": 0.5], recipe: ["epochs": 1])
    }

    func entries(_ url: URL) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []).sorted()
    }

    // MARK: Model publishing

    func testPublishOnAFullDiskFailsCleanlyAndTheDaemonKeepsServing() async throws {
        let disk = try disk(kilobytes: 512)
        let repo = ModelRepository(root: disk.url)
        XCTAssertEqual(try Self.publishTiny(repo), 1)
        let daemon = try await LiveDaemon.startEngine(models: disk.url)
        try await daemon.waitUntilReady()
        let infer = ByteBuffer(string: #"{"inputs": [{"name": "input", "shape": [1, 1, 1, 3], "datatype": "FP32", "data": [1, 2, 3]}]}"#)
        let json: HTTPFields = [.contentType: "application/json"]
        let before = try await daemon.request("/v2/models/m/infer", method: .post, headers: json, body: infer)
        XCTAssertEqual(before.status, .ok)

        try disk.fill()
        XCTAssertThrowsError(try Self.publishTiny(repo)) { error in
            XCTAssertTrue("\(error)".contains("No space left on device"), "\(error)")
        }
        XCTAssertEqual(try repo.versions(of: "m"), [1])
        XCTAssertEqual(entries(disk.url.appendingPathComponent("m")), ["1", "config.json"], "nothing half-written left behind")
        try await Task.sleep(for: .milliseconds(300))  // polls of the repository while the disk is full
        let during = try await daemon.request("/v2/models/m/infer", method: .post, headers: json, body: infer)
        XCTAssertEqual(during.status, .ok)
        func outputs(_ r: TestClient.Response) -> String {
            let object = try? JSONSerialization.jsonObject(with: Data((r.body ?? ByteBuffer()).readableBytesView)) as? [String: Any]
            let data = ((object?["outputs"] as? [[String: Any]]) ?? []).sorted { "\($0["name"] ?? "")" < "\($1["name"] ?? "")" }
                .map { "\($0["name"] ?? "")=\($0["data"] ?? "")" }
            return "\(object?["model_version"] ?? "") \(data.joined(separator: " "))"
        }
        XCTAssertEqual(outputs(during), outputs(before), "version 1 still serves")
        XCTAssertTrue(outputs(before).hasPrefix("1 "), outputs(before))

        disk.unfill()
        XCTAssertEqual(try Self.publishTiny(repo), 2, "publishing works again once there is room")
        try await daemon.stop()
    }

    func testPublishIntoAReadOnlyRepositoryFailsWithTheReason() throws {
        let disk = try disk(kilobytes: 512)
        let repo = ModelRepository(root: disk.url)
        XCTAssertEqual(try Self.publishTiny(repo), 1)
        try disk.remount(readOnly: true)
        XCTAssertThrowsError(try Self.publishTiny(repo)) { error in
            XCTAssertTrue("\(error)".contains("Read-only file system"), "\(error)")
        }
        XCTAssertEqual(try repo.versions(of: "m"), [1])
        XCTAssertNoThrow(try repo.load("m", version: 1))
    }

    // MARK: The face gallery

    func testGalleryWritesOnAFullDiskAnswer503AndIdentifyKeepsAnswering() async throws {
        let disk = try disk(kilobytes: 2048)
        let repo = try TestRepository()
        defer { repo.remove() }
        try FaceRouteTests.publishToyModel(repo.repository, weights: FaceRouteTests.identity)
        let state = disk.url, root = repo.root
        @Sendable func post(_ client: any TestClientProtocol, _ path: String, _ fields: [String: Any]) async throws
            -> (HTTPResponse.Status, [String: Any]) {
            try await client.execute(uri: path, method: .post, headers: [.contentType: "application/json"], body: TestJSON.body(fields)) { r in
                (r.status, (try? JSONSerialization.jsonObject(with: Data(r.body.readableBytesView)) as? [String: Any]) ?? [:])
            }
        }
        @Sendable func enroll(_ client: any TestClientProtocol, _ name: String, _ photo: Data) async throws -> (HTTPResponse.Status, [String: Any]) {
            try await post(client, "/v1/models/faces/identities", ["name": name, "image": photo.base64EncodedString()])
        }
        @Sendable func identify(_ client: any TestClientProtocol) async throws -> [String: Any] {
            let (status, found) = try await post(client, "/v1/models/faces/identify", ["image": FaceRouteTests.ada.base64EncodedString()])
            XCTAssertEqual(status, .ok)
            return found
        }
        try await withEngineApplication(repository: root, tasks: [FaceVerification(), FaceEmbedding()], settings: HTTPSettings(),
                                        endpoints: { backend in
            [try FaceGallery(stateDirectory: state, repository: ModelRepository(root: root), performer: backend)]
        }) { client in
            let first = try await enroll(client, "Ada", FaceRouteTests.ada)
            XCTAssertEqual(first.0, .created)

            try disk.fill()
            let full = try await enroll(client, "Eve", FaceRouteTests.eve)
            XCTAssertEqual(full.0, .serviceUnavailable, "\(full.1)")
            XCTAssertTrue("\(full.1["error"] ?? "")".contains("face gallery storage"), "\(full.1)")
            var found = try await identify(client)
            XCTAssertEqual(found["gallery_size"] as? Int, 1)

            disk.unfill()
            let again = try await enroll(client, "Bob", FaceRouteTests.bob)
            XCTAssertEqual(again.0, .created, "\(again.1)")
            found = try await identify(client)
            XCTAssertEqual(found["gallery_size"] as? Int, 2)
        }
    }

    /// A state directory on a read-only file system stops `dlserve serve` at
    /// start with the reason (its job database and gallery cannot be written);
    /// a running daemon's cannot turn read-only under it (the kernel refuses
    /// to remount a file system read-only while files on it are open for writing).
    func testReadOnlyStateDirectoryStopsTheDaemonAtStartWithTheReason() throws {
        guard FileManager.default.fileExists(atPath: DaemonProcess.binary.path) else { throw XCTSkip("\(DaemonProcess.binary.path) is not built") }
        let disk = try disk(kilobytes: 512)
        try disk.remount(readOnly: true)
        let models = try TestRepository()
        defer { models.remove() }
        let (status, output) = ScratchDisk.run(DaemonProcess.binary.path, ["serve", "--port", "0", "--models", models.root.path, "--state", disk.url.path])
        XCTAssertNotEqual(status, 0)
        XCTAssertTrue(output.contains("Read-only file system") || output.contains("readonly"), output)
    }

    // MARK: Training jobs

    func testJobCheckpointOnAFullDiskFailsTheJobWithItsReason() async throws {
        guard FileManager.default.fileExists(atPath: DaemonProcess.binary.path) else { throw XCTSkip("\(DaemonProcess.binary.path) is not built") }
        guard FileManager.default.fileExists(atPath: FashionMNIST.defaultRoot.appendingPathComponent("train-images-idx3-ubyte.gz").path) else {
            throw XCTSkip("dataset-fashion-mnist is not installed")
        }
        let disk = try disk(kilobytes: 16384)
        let models = FileManager.default.temporaryDirectory.appendingPathComponent("disk-fault-models-\(getpid())")
        try FileManager.default.createDirectory(at: models, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: models) }
        try JobsLiveTests.writeFashionSlice("fm300", count: 300, state: disk.url)
        let tokenFile = models.appendingPathComponent(".token")
        try "t".write(to: tokenFile, atomically: true, encoding: .utf8)
        let d = try DaemonProcess.start(["--models", models.path, "--state", disk.url.path, "--token-file", tokenFile.path,
                                         "--poll-interval", "0.2", "--log-level", "notice"])
        defer { d.kill() }
        func run(_ name: String) async throws -> Job {
            let id = try await d.submit(JobsLiveTests.recipe(name, dataset: ["name": "fm300"], epochs: 2, width: 256), token: "t")
            let deadline = Date() + 120
            var job: Job
            repeat {
                try await Task.sleep(for: .milliseconds(100))
                job = try await d.job(id, token: "t")
            } while !job.state.isTerminal && Date() < deadline
            return job
        }
        // The checkpoint (weights and Adam's moments: ~2.4 MB) does not fit; the database does.
        try disk.fill(leaving: 256 << 10)
        let failed = try await run("full")
        XCTAssertEqual(failed.state, .failed)
        XCTAssertTrue((failed.error ?? "").contains("No space left on device"), failed.error ?? "no error")
        XCTAssertEqual(try d.requestSync("GET", "/v2/health/live"), 200)

        disk.unfill()
        let succeeded = try await run("roomy")
        XCTAssertEqual(succeeded.state, .succeeded, succeeded.error ?? "")
        XCTAssertEqual(try ModelRepository(root: models).versions(of: "roomy"), [1])
        XCTAssertEqual((try? ModelRepository(root: models).versions(of: "full")) ?? [], [])
    }

    // MARK: A power cut between write and rename

    /// `dlserve train` (a checkpoint every epoch, then a new version) killed at
    /// each of its renames in turn: every version left in the repository loads,
    /// it is either the old one or the complete new one, and the checkpoint
    /// left behind (if any) reads.
    func testKilledAtEveryRenameLeavesOldOrCompleteFiles() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/strace") else { throw XCTSkip("strace is not installed") }
        guard FileManager.default.fileExists(atPath: DaemonProcess.binary.path) else { throw XCTSkip("\(DaemonProcess.binary.path) is not built") }
        guard FileManager.default.fileExists(atPath: FashionMNIST.defaultRoot.appendingPathComponent("train-images-idx3-ubyte.gz").path) else {
            throw XCTSkip("dataset-fashion-mnist is not installed")
        }
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("power-cut-\(getpid())")
        try? FileManager.default.removeItem(at: root)
        defer { try? FileManager.default.removeItem(at: root) }
        let datasets = root.appendingPathComponent("datasets")
        try JobsLiveTests.writeFashionSlice("fm200", count: 200, state: root)
        let recipe = root.appendingPathComponent("recipe.json")
        try JobsLiveTests.recipe("cut", dataset: ["name": "fm200"], epochs: 2).write(to: recipe)

        /// The exit status, or 128 + the signal that ended the run.
        func train(models: URL, checkpoint: URL, killAt: Int?) throws -> Int32 {
            let p = Process()
            var args = [DaemonProcess.binary.path, "train", recipe.path, "--models", models.path, "--datasets", datasets.path,
                        "--checkpoint", checkpoint.path, "--threads", "1", "--quiet"]
            if let n = killAt {
                p.executableURL = URL(fileURLWithPath: "/usr/bin/strace")
                args = ["-f", "-qq", "-o", "/dev/null", "-e", "trace=rename,renameat,renameat2",
                        "-e", "inject=rename,renameat,renameat2:signal=KILL:when=\(n)"] + args
            } else {
                p.executableURL = DaemonProcess.binary
                args.removeFirst()
            }
            p.arguments = args
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            p.waitUntilExit()
            // strace ends itself with the signal that killed its child.
            return p.terminationReason == .uncaughtSignal ? 128 + p.terminationStatus : p.terminationStatus
        }

        // Version 1, trained without faults.
        let base = root.appendingPathComponent("base")
        XCTAssertEqual(try train(models: base, checkpoint: root.appendingPathComponent("base.ckpt"), killAt: nil), 0)
        let v1 = try ModelRepository(root: base).load("cut", version: 1).model.stateDict.map(\.tensor.data)

        var cuts = 0
        for n in 1...40 {
            let models = root.appendingPathComponent("run-\(n)")
            try FileManager.default.copyItem(at: base, to: models)
            let checkpoint = root.appendingPathComponent("run-\(n).ckpt")
            let status = try train(models: models, checkpoint: checkpoint, killAt: n)
            let repo = ModelRepository(root: models)
            let versions = try repo.versions(of: "cut")
            XCTAssertEqual(try repo.load("cut", version: 1).model.stateDict.map(\.tensor.data), v1, "kill at rename \(n): version 1 changed")
            if status == 0 {
                XCTAssertEqual(versions, [1, 2], "the run that was not killed publishes version 2")
                break
            }
            cuts += 1
            XCTAssertEqual(status, 128 + SIGKILL, "kill at rename \(n)")
            XCTAssertTrue(versions == [1] || versions == [1, 2], "kill at rename \(n): versions \(versions)")
            for v in versions { XCTAssertNoThrow(try repo.load("cut", version: v), "kill at rename \(n): version \(v)") }
            if FileManager.default.fileExists(atPath: checkpoint.path) {
                XCTAssertNoThrow(try TrainingCheckpoint.load(from: checkpoint), "kill at rename \(n): the checkpoint")
            }
            // And training resumes from whatever the cut left, to a complete new version.
            if n == 1 || n % 3 == 0 {
                XCTAssertEqual(try train(models: models, checkpoint: checkpoint, killAt: nil), 0, "resume after the kill at rename \(n)")
                XCTAssertEqual(try repo.versions(of: "cut").last, versions.count == 2 ? 3 : 2)
            }
        }
        XCTAssertGreaterThanOrEqual(cuts, 4, "the run renames a checkpoint per epoch, then the version's files and folder")
    }
}

/// A tmpfs mounted at a fresh temporary directory (root only).
final class ScratchDisk {
    let url: URL
    private var filler: URL { url.appendingPathComponent(".filler") }

    init(kilobytes: Int) throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("scratch-disk-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        let (status, output) = Self.run("/bin/mount", ["-t", "tmpfs", "-o", "size=\(kilobytes)k,mode=0755", "tmpfs", url.path])
        guard status == 0 else {
            try? FileManager.default.removeItem(at: url)
            throw XCTSkip("cannot mount a tmpfs (needs root): \(output)")
        }
    }

    static func run(_ tool: String, _ args: [String]) -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = args
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        do { try p.run() } catch { return (-1, "\(error)") }
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))
    }

    func remount(readOnly: Bool) throws {
        let (status, output) = Self.run("/bin/mount", ["-o", "remount,\(readOnly ? "ro" : "rw")", url.path])
        guard status == 0 else { throw NSError(domain: "ScratchDisk", code: Int(status), userInfo: [NSLocalizedDescriptionKey: output]) }
    }

    /// Writes a filler file until at most `leaving` bytes are free.
    func fill(leaving: Int = 0) throws {
        let fd = open(filler.path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        guard fd >= 0 else { throw NSError(domain: "ScratchDisk", code: Int(errno)) }
        defer { close(fd) }
        let chunk = [UInt8](repeating: 0xAB, count: 4096)
        while free() > leaving {
            let n = chunk.withUnsafeBytes { write(fd, $0.baseAddress!, min(4096, max(free() - leaving, 1))) }
            if n <= 0 { break }
        }
    }

    func unfill() { unlink(filler.path) }

    func free() -> Int {
        var s = statvfs()
        guard statvfs(url.path, &s) == 0 else { return 0 }
        return Int(s.f_bavail) * Int(s.f_frsize)
    }

    func unmount() {
        _ = Self.run("/bin/umount", ["-l", url.path])
        try? FileManager.default.removeItem(at: url)
    }
}
