extension ModelConfig {
    /// Checks every value a file can get wrong. Throws `RepositoryError.badConfig`
    /// whose message names the field, e.g. "field 'serving.max_batch_size' must be at least 1 (got 0)".
    public func validate() throws {
        func fail(_ field: String, _ m: String) -> RepositoryError {
            .badConfig(model: name, message: "field '\(field)' \(m)")
        }
        guard ModelRepository.isValidName(name) else {
            throw fail("name", "'\(name)' must use letters, digits, '.', '_' and '-', starting with a letter or digit")
        }

        if task == .classification {
            guard !labels.isEmpty else { throw fail("labels", "must list the class names") }
        }
        if let i = labels.firstIndex(where: { $0.isEmpty }) { throw fail("labels[\(i)]", "is empty") }
        var seen: Set<String> = []
        for (i, l) in labels.enumerated() where !seen.insert(l).inserted {
            throw fail("labels[\(i)]", "'\(l)' appears twice")
        }

        if let text = input.text {
            guard input.shape == [-1] || (input.shape.count == 1 && input.shape[0] > 0) else {
                throw fail("input.shape", "of a text model must be [-1] (a variable length) or [length] (got \(input.shape))")
            }
            guard (1...100_000).contains(text.maxLength) else {
                throw fail("input.text.max_length", "must be between 1 and 100000 (got \(text.maxLength))")
            }
            guard !text.vocabulary.isEmpty, !text.vocabulary.contains("/"), !text.vocabulary.hasPrefix(".") else {
                throw fail("input.text.vocabulary", "must be a file name inside the version directory (got '\(text.vocabulary)')")
            }
        } else if task == .wordVectors {
            guard input.shape == [-1] else { throw fail("input.shape", "of a word-vector model must be [-1] (got \(input.shape))") }
        } else if task != .translation {
            guard !input.shape.isEmpty, input.shape.allSatisfy({ $0 > 0 }) else {
                throw fail("input.shape", "must be positive dimensions (got \(input.shape))")
            }
        }
        if task == .translation {
            guard input.shape == [-1] else { throw fail("input.shape", "of a translation model must be [-1], the source length (got \(input.shape))") }
        }
        if task == .sentiment {
            guard input.text != nil else { throw fail("input.text", "is required for a sentiment model") }
            guard !labels.isEmpty else { throw fail("labels", "must list the classes") }
        }
        if task.takesImages {
            guard input.shape.count == 3 else { throw fail("input.shape", "must be [channels, height, width] (got \(input.shape))") }
            guard input.shape[0] == input.color.channels else {
                throw fail("input.shape", "has \(input.shape[0]) channels but input.color '\(input.color.rawValue)' has \(input.color.channels)")
            }
            guard input.shape[1] * input.shape[2] <= 1 << 24 else { throw fail("input.shape", "is too large an image (\(input.shape))") }
            let p = input.preprocessing, channels = input.shape[0]
            guard p.scale.isFinite, p.scale != 0 else { throw fail("input.preprocessing.scale", "must be a finite non-zero number") }
            let counts = channels == 1 ? "1 value" : "1 or \(channels) values"
            guard p.mean.count == 1 || p.mean.count == channels else {
                throw fail("input.preprocessing.mean", "must have \(counts) (got \(p.mean.count))")
            }
            guard p.mean.allSatisfy(\.isFinite) else { throw fail("input.preprocessing.mean", "must be finite") }
            guard p.std.count == 1 || p.std.count == channels else {
                throw fail("input.preprocessing.std", "must have \(counts) (got \(p.std.count))")
            }
            guard p.std.allSatisfy({ $0.isFinite && $0 > 0 }) else { throw fail("input.preprocessing.std", "must be positive") }
        }

        let s = serving
        guard (1...65_536).contains(s.maxBatchSize) else {
            throw fail("serving.max_batch_size", "must be between 1 and 65536 (got \(s.maxBatchSize))")
        }
        guard s.maxQueueDelayMs.isFinite, (0...60_000).contains(s.maxQueueDelayMs) else {
            throw fail("serving.max_queue_delay_ms", "must be between 0 and 60000 (got \(s.maxQueueDelayMs))")
        }
        guard s.queueCapacity >= 1 else { throw fail("serving.queue_capacity", "must be at least 1 (got \(s.queueCapacity))") }
        guard s.timeoutMs >= 1 else { throw fail("serving.timeout_ms", "must be at least 1 (got \(s.timeoutMs))") }
        if case .specific(let versions) = s.versionPolicy {
            guard !versions.isEmpty else { throw fail("serving.version_policy.specific", "must list at least one version") }
            guard versions.allSatisfy({ $0 >= 1 }) else { throw fail("serving.version_policy.specific", "versions must be at least 1 (got \(versions))") }
            guard Set(versions).count == versions.count else { throw fail("serving.version_policy.specific", "lists a version twice (\(versions))") }
        }
    }

    /// Checks that a version's architecture fits this config: the same input
    /// shape, and for classification one output value per label (logits of
    /// shape [labels] or, for fully convolutional classifiers, [labels, 1, 1]);
    /// a translation model reads "src" and "tgt" (its `input.shape` is the source's).
    /// Returns the problem, or nil.
    public func mismatch(with model: GraphModel) -> String? {
        if model.spec.inputShape != input.shape {
            return "model.json input_shape \(model.spec.inputShape) differs from config.json input.shape \(input.shape)"
        }
        if task == .translation, model.spec.inputs.map(\.name) != ["src", "tgt"] {
            return "a translation model's inputs must be \"src\" and \"tgt\" (model.json has \(model.spec.inputs.map(\.name)))"
        }
        if task == .classification, model.outputShape.reduce(1, *) != labels.count {
            return "the model outputs shape \(model.outputShape) but config.json has \(labels.count) labels"
        }
        return nil
    }
}
