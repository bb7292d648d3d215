import Foundation

/// Every setting of `dlserve serve`. Each comes from (highest first) a
/// command-line flag, a `DLSERVE_*` environment variable, the JSON config
/// file (`--config` or `DLSERVE_CONFIG`), or the default here; the defaults
/// work from a fresh clone.
public struct ServeSettings: Sendable, Equatable {
    public var host = "127.0.0.1"
    public var port = 8080
    public var models = "./models"
    public var state = "./var"
    /// Inference worker threads; nil lets the engine pick (the core count).
    public var workers: Int?
    public var maxBodyBytes = 8 * 1024 * 1024
    /// Seconds before a request answers 504.
    public var requestTimeout: Double = 30
    /// Seconds between scans of the model repository for new versions.
    public var pollInterval: Double = 2
    /// Seconds in-flight requests get to finish on SIGTERM.
    public var drainTimeout: Double = 30
    /// Connection limits (`ConnectionLimits`): seconds for a new connection's
    /// first request head, seconds a keep-alive connection may wait for its
    /// next request, the longest gap in a request body, the body's minimum
    /// average rate in bytes/s after that grace, and the open connections cap.
    public var headerTimeout: Double = 60
    public var idleTimeout: Double = 60
    public var bodyTimeout: Double = 60
    public var bodyMinRate = 1024
    public var maxConnections = 4096
    public var tlsCert: String?
    public var tlsKey: String?
    public var tokenFile: String?
    public var logLevel = "info"
    /// Training jobs: queued jobs at most (one more answers 429), jobs that
    /// train at once, and per-job limits.
    public var jobCapacity = 16
    public var jobWorkers = 1
    public var jobMaxEpochs = 200
    public var jobMaxTrainImages = 100_000
    /// Nice value of the training threads: 19 lets inference threads run first.
    public var jobNice = 19

    public init() {}

    /// One layer of settings (flags, environment or file): nil = not given.
    public struct Layer: Codable, Sendable, Equatable {
        public var host: String?
        public var port: Int?
        public var models: String?
        public var state: String?
        public var workers: Int?
        public var maxBodyBytes: Int?
        public var requestTimeout: Double?
        public var pollInterval: Double?
        public var drainTimeout: Double?
        public var headerTimeout: Double?
        public var idleTimeout: Double?
        public var bodyTimeout: Double?
        public var bodyMinRate: Int?
        public var maxConnections: Int?
        public var tlsCert: String?
        public var tlsKey: String?
        public var tokenFile: String?
        public var logLevel: String?
        public var jobCapacity: Int?
        public var jobWorkers: Int?
        public var jobMaxEpochs: Int?
        public var jobMaxTrainImages: Int?
        public var jobNice: Int?

        public init() {}

        enum CodingKeys: String, CodingKey, CaseIterable {
            case host, port, models, state, workers
            case maxBodyBytes = "max_body_bytes"
            case requestTimeout = "request_timeout"
            case pollInterval = "poll_interval"
            case drainTimeout = "drain_timeout"
            case headerTimeout = "header_timeout"
            case idleTimeout = "idle_timeout"
            case bodyTimeout = "body_timeout"
            case bodyMinRate = "body_min_rate"
            case maxConnections = "max_connections"
            case tlsCert = "tls_cert"
            case tlsKey = "tls_key"
            case tokenFile = "token_file"
            case logLevel = "log_level"
            case jobCapacity = "job_capacity"
            case jobWorkers = "job_workers"
            case jobMaxEpochs = "job_max_epochs"
            case jobMaxTrainImages = "job_max_train_images"
            case jobNice = "job_nice"
        }
    }

    /// Merges layers, the first given value winning (flags, env, file).
    public static func resolve(_ layers: [Layer]) throws -> ServeSettings {
        var s = ServeSettings()
        func pick<T>(_ key: KeyPath<Layer, T?>) -> T? { layers.lazy.compactMap { $0[keyPath: key] }.first }
        s.host = pick(\.host) ?? s.host
        s.port = pick(\.port) ?? s.port
        s.models = pick(\.models) ?? s.models
        s.state = pick(\.state) ?? s.state
        s.workers = pick(\.workers) ?? s.workers
        s.maxBodyBytes = pick(\.maxBodyBytes) ?? s.maxBodyBytes
        s.requestTimeout = pick(\.requestTimeout) ?? s.requestTimeout
        s.pollInterval = pick(\.pollInterval) ?? s.pollInterval
        s.drainTimeout = pick(\.drainTimeout) ?? s.drainTimeout
        s.headerTimeout = pick(\.headerTimeout) ?? s.headerTimeout
        s.idleTimeout = pick(\.idleTimeout) ?? s.idleTimeout
        s.bodyTimeout = pick(\.bodyTimeout) ?? s.bodyTimeout
        s.bodyMinRate = pick(\.bodyMinRate) ?? s.bodyMinRate
        s.maxConnections = pick(\.maxConnections) ?? s.maxConnections
        s.tlsCert = pick(\.tlsCert) ?? s.tlsCert
        s.tlsKey = pick(\.tlsKey) ?? s.tlsKey
        s.tokenFile = pick(\.tokenFile) ?? s.tokenFile
        s.logLevel = pick(\.logLevel) ?? s.logLevel
        s.jobCapacity = pick(\.jobCapacity) ?? s.jobCapacity
        s.jobWorkers = pick(\.jobWorkers) ?? s.jobWorkers
        s.jobMaxEpochs = pick(\.jobMaxEpochs) ?? s.jobMaxEpochs
        s.jobMaxTrainImages = pick(\.jobMaxTrainImages) ?? s.jobMaxTrainImages
        s.jobNice = pick(\.jobNice) ?? s.jobNice
        try s.validate()
        return s
    }

    public func validate() throws {
        guard (0...65535).contains(port) else { throw SettingsError("port must be 0...65535, got \(port)") }
        if let workers, !(1...256).contains(workers) { throw SettingsError("workers must be 1...256, got \(workers)") }
        guard maxBodyBytes >= 1024 else { throw SettingsError("max_body_bytes must be at least 1024, got \(maxBodyBytes)") }
        guard requestTimeout > 0 else { throw SettingsError("request_timeout must be positive, got \(requestTimeout)") }
        guard pollInterval > 0 else { throw SettingsError("poll_interval must be positive, got \(pollInterval)") }
        guard drainTimeout >= 0 else { throw SettingsError("drain_timeout must not be negative, got \(drainTimeout)") }
        for (name, value) in [("header_timeout", headerTimeout), ("idle_timeout", idleTimeout), ("body_timeout", bodyTimeout)] {
            guard value > 0, value <= 86_400 else { throw SettingsError("\(name) must be positive seconds (at most 86400), got \(value)") }
        }
        guard bodyMinRate >= 1 else { throw SettingsError("body_min_rate must be at least 1 byte/s, got \(bodyMinRate)") }
        guard (1...1_000_000).contains(maxConnections) else {
            throw SettingsError("max_connections must be 1...1000000, got \(maxConnections)")
        }
        guard (tlsCert == nil) == (tlsKey == nil) else { throw SettingsError("tls_cert and tls_key must be given together") }
        let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
        guard (1...10_000).contains(jobCapacity) else { throw SettingsError("job_capacity must be 1...10000, got \(jobCapacity)") }
        guard (1...64).contains(jobWorkers) else { throw SettingsError("job_workers must be 1...64, got \(jobWorkers)") }
        guard jobMaxEpochs >= 1 else { throw SettingsError("job_max_epochs must be at least 1, got \(jobMaxEpochs)") }
        guard (0...19).contains(jobNice) else { throw SettingsError("job_nice must be 0...19, got \(jobNice)") }
        guard jobMaxTrainImages >= 1 else { throw SettingsError("job_max_train_images must be at least 1, got \(jobMaxTrainImages)") }
        guard levels.contains(logLevel) else { throw SettingsError("log_level must be one of \(levels.joined(separator: ", ")), got '\(logLevel)'") }
    }
}

public struct SettingsError: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

extension ServeSettings.Layer {
    /// The `DLSERVE_*` variables: DLSERVE_HOST, DLSERVE_PORT, DLSERVE_MODELS,
    /// DLSERVE_STATE, DLSERVE_WORKERS, DLSERVE_MAX_BODY_BYTES,
    /// DLSERVE_REQUEST_TIMEOUT, DLSERVE_POLL_INTERVAL, DLSERVE_DRAIN_TIMEOUT,
    /// DLSERVE_HEADER_TIMEOUT, DLSERVE_IDLE_TIMEOUT, DLSERVE_BODY_TIMEOUT, DLSERVE_BODY_MIN_RATE, DLSERVE_MAX_CONNECTIONS,
    /// DLSERVE_TLS_CERT, DLSERVE_TLS_KEY, DLSERVE_TOKEN_FILE, DLSERVE_LOG_LEVEL,
    /// DLSERVE_JOB_CAPACITY, DLSERVE_JOB_WORKERS, DLSERVE_JOB_MAX_EPOCHS, DLSERVE_JOB_MAX_TRAIN_IMAGES,
    /// DLSERVE_JOB_NICE.
    /// Empty values count as not set.
    public static func environment(_ env: [String: String] = ProcessInfo.processInfo.environment) throws -> Self {
        func value(_ key: CodingKeys) -> String? {
            let name = "DLSERVE_" + key.rawValue.uppercased()
            guard let v = env[name], !v.isEmpty else { return nil }
            return v
        }
        func int(_ key: CodingKeys) throws -> Int? {
            guard let v = value(key) else { return nil }
            guard let i = Int(v) else { throw SettingsError("DLSERVE_\(key.rawValue.uppercased()) must be an integer, got '\(v)'") }
            return i
        }
        func double(_ key: CodingKeys) throws -> Double? {
            guard let v = value(key) else { return nil }
            guard let d = Double(v) else { throw SettingsError("DLSERVE_\(key.rawValue.uppercased()) must be a number, got '\(v)'") }
            return d
        }
        var layer = Self()
        layer.host = value(.host)
        layer.port = try int(.port)
        layer.models = value(.models)
        layer.state = value(.state)
        layer.workers = try int(.workers)
        layer.maxBodyBytes = try int(.maxBodyBytes)
        layer.requestTimeout = try double(.requestTimeout)
        layer.pollInterval = try double(.pollInterval)
        layer.drainTimeout = try double(.drainTimeout)
        layer.headerTimeout = try double(.headerTimeout)
        layer.idleTimeout = try double(.idleTimeout)
        layer.bodyTimeout = try double(.bodyTimeout)
        layer.bodyMinRate = try int(.bodyMinRate)
        layer.maxConnections = try int(.maxConnections)
        layer.tlsCert = value(.tlsCert)
        layer.tlsKey = value(.tlsKey)
        layer.tokenFile = value(.tokenFile)
        layer.logLevel = value(.logLevel)
        layer.jobCapacity = try int(.jobCapacity)
        layer.jobWorkers = try int(.jobWorkers)
        layer.jobMaxEpochs = try int(.jobMaxEpochs)
        layer.jobMaxTrainImages = try int(.jobMaxTrainImages)
        layer.jobNice = try int(.jobNice)
        return layer
    }

    /// A JSON config file with the same keys in snake_case
    /// (`{"port": 9000, "models": "/srv/models", "max_body_bytes": 1048576}`).
    /// Unknown keys are refused so that a typo does not pass silently.
    public static func file(_ path: String) throws -> Self {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SettingsError("cannot read config file \(path)")
        }
        let known = Set(CodingKeys.allCases.map(\.rawValue))
        if let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] {
            let unknown = object.keys.filter { !known.contains($0) }.sorted()
            guard unknown.isEmpty else {
                throw SettingsError("config file \(path): unknown keys \(unknown.joined(separator: ", "))")
            }
        }
        do {
            return try JSONDecoder().decode(Self.self, from: data)
        } catch let error as DecodingError {
            throw SettingsError("config file \(path): \(APIError.describe(error))")
        }
    }
}

extension ServeSettings {
    /// Reads the bearer token file: the first line, trimmed; an empty file is an error.
    public func readToken() throws -> String? {
        guard let tokenFile else { return nil }
        guard let data = FileManager.default.contents(atPath: tokenFile),
            let text = String(data: data, encoding: .utf8)
        else {
            throw SettingsError("cannot read token file \(tokenFile)")
        }
        let token = text.split(whereSeparator: \.isNewline).first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        guard !token.isEmpty else { throw SettingsError("token file \(tokenFile) is empty") }
        return token
    }

    public var connectionLimits: ConnectionLimits {
        func d(_ seconds: Double) -> Duration { .milliseconds(Int64((seconds * 1000).rounded())) }
        return ConnectionLimits(header: d(headerTimeout), idle: d(idleTimeout), body: d(bodyTimeout),
                                bodyMinRate: bodyMinRate, maxConnections: maxConnections)
    }

    public var httpSettings: HTTPSettings {
        get throws {
            HTTPSettings(maxBodyBytes: maxBodyBytes, requestTimeout: .milliseconds(Int64(requestTimeout * 1000)), bearerToken: try readToken())
        }
    }
}
