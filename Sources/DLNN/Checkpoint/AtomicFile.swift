#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Crash-safe file and directory replacement. A reader sees either the old
/// content or the complete new content, never a partial file, and after the call
/// returns the new content survives a power cut:
///
/// 1. write a temporary file in the same directory (same file system),
/// 2. fsync it, 3. rename it over the target (atomic in POSIX),
/// 4. fsync the directory so the rename itself is durable.
///
/// Every model, checkpoint and state file goes through here. Temporary names
/// start with "." so directory listings that skip hidden entries ignore them.
/// Failures throw `ModelError.io` naming the path and the system error.
public enum AtomicFile {
    /// Replaces (or creates) `url` with `data`. The parent directory must exist.
    public static func write(_ data: Data, to url: URL, permissions: mode_t = 0o644) throws {
        let dir = url.deletingLastPathComponent()
        let tmp = dir.appendingPathComponent(".\(url.lastPathComponent).tmp-\(uniqueSuffix())")
        let fd = open(tmp.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, permissions)
        guard fd >= 0 else { throw error("cannot create \(tmp.path)") }
        var closed = false
        do {
            defer { if !closed { close(fd) } }
            try data.withUnsafeBytes { raw in
                var done = 0
                while done < raw.count {
                    let n = Glibc_or_Darwin_write(fd, raw.baseAddress! + done, raw.count - done)
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw error("cannot write \(tmp.path)")
                    }
                    done += n
                }
            }
            guard fsync(fd) == 0 else { throw error("cannot fsync \(tmp.path)") }
            closed = true
            guard close(fd) == 0 else { throw error("cannot close \(tmp.path)") }
            guard rename(tmp.path, url.path) == 0 else { throw error("cannot rename \(tmp.path) to \(url.path)") }
        } catch {
            unlink(tmp.path)
            throw error
        }
        try syncDirectory(dir)
    }

    /// Builds a directory out of sight and publishes it under `target` in one rename.
    /// Throws `ModelError.io` if `target` already exists (the built directory is removed).
    public static func publishDirectory(at target: URL, build: (URL) throws -> Void) throws {
        let name = target.lastPathComponent
        _ = try publishDirectory(in: target.deletingLastPathComponent(), build: build) { attempt in
            guard attempt == 0 else { throw ModelError.io("cannot publish \(target.path): it already exists") }
            return name
        }
    }

    /// Builds a directory in a hidden temporary directory inside `parent`, fsyncs
    /// every file in it, then renames it to `name(attempt)` for attempt 0, 1, ...
    /// until a rename succeeds, so concurrent publishers that pick the same name
    /// retry with the next one. `build` must create at least one file: a rename
    /// onto an existing empty directory would succeed, onto a non-empty one fails
    /// with EEXIST/ENOTEMPTY, which is what makes the retry safe. Returns the final URL.
    /// On any error the temporary directory is removed.
    public static func publishDirectory(in parent: URL, build: (URL) throws -> Void, name: (Int) throws -> String) throws -> URL {
        let tmp = parent.appendingPathComponent(".tmp-publish-\(uniqueSuffix())")
        guard mkdir(tmp.path, 0o755) == 0 else { throw error("cannot create \(tmp.path)") }
        do {
            try build(tmp)
            let contents = (try? FileManager.default.contentsOfDirectory(atPath: tmp.path)) ?? []
            guard !contents.isEmpty else { throw ModelError.io("cannot publish into \(parent.path): the build produced an empty directory") }
            try syncTree(tmp)
            for attempt in 0..<1000 {
                let target = parent.appendingPathComponent(try name(attempt))
                if rename(tmp.path, target.path) == 0 {
                    try syncDirectory(parent)
                    return target
                }
                guard errno == EEXIST || errno == ENOTEMPTY || errno == ENOTDIR else {
                    throw error("cannot rename \(tmp.path) to \(target.path)")
                }
            }
            throw ModelError.io("cannot publish into \(parent.path): 1000 names were taken")
        } catch {
            try? FileManager.default.removeItem(at: tmp)
            throw error
        }
    }

    /// fsyncs a directory so that renames and creations in it are durable.
    public static func syncDirectory(_ url: URL) throws {
        let fd = open(url.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw error("cannot open directory \(url.path)") }
        defer { close(fd) }
        // Some file systems refuse fsync on directories (EINVAL); nothing more can be done there.
        guard fsync(fd) == 0 || errno == EINVAL else { throw error("cannot fsync directory \(url.path)") }
    }

    /// fsyncs every regular file and directory under `url` (symbolic links are not followed).
    static func syncTree(_ url: URL) throws {
        var st = stat()
        guard lstat(url.path, &st) == 0 else { throw error("cannot stat \(url.path)") }
        switch st.st_mode & S_IFMT {
        case S_IFDIR:
            for entry in try FileManager.default.contentsOfDirectory(atPath: url.path) {
                try syncTree(url.appendingPathComponent(entry))
            }
            try syncDirectory(url)
        case S_IFREG:
            let fd = open(url.path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw error("cannot open \(url.path)") }
            defer { close(fd) }
            guard fsync(fd) == 0 else { throw error("cannot fsync \(url.path)") }
        default:
            break
        }
    }

    static func uniqueSuffix() -> String {
        "\(getpid())-\(String(UInt64.random(in: 0...UInt64.max), radix: 36))"
    }

    static func error(_ what: String) -> ModelError {
        ModelError.io("\(what): \(String(cString: strerror(errno)))")
    }
}

@inline(__always)
private func Glibc_or_Darwin_write(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int {
    #if canImport(Glibc)
    return Glibc.write(fd, p, n)
    #else
    return Darwin.write(fd, p, n)
    #endif
}
