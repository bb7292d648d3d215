import DLText

extension VersionResources {
    /// A text as token ids with this version's tokenizer and vocabulary, and
    /// how many of its words the vocabulary does not know. Throws
    /// invalidInput naming `field` for an empty text or one longer than
    /// `maxLength` tokens; internal for a version without a vocabulary.
    public func encode(_ text: String, field: String) throws -> (ids: [Int], unknown: Int) {
        guard let vocabulary, let tokenizer else { throw ServingError.internal("the model has no vocabulary") }
        let tokens = tokenizer.tokenize(text)
        guard !tokens.isEmpty else { throw ServingError.invalidInput("\(field) is empty (no words)") }
        let limit = maxLength ?? 256
        guard tokens.count <= limit else {
            throw ServingError.invalidInput("\(field) has \(tokens.count) tokens, more than the model's max_length of \(limit)")
        }
        return vocabulary.encode(tokens)
    }
}
