import DLVision

/// A tensor as the Open Inference Protocol describes it, with what it holds.
public struct TensorMetadata: Codable, Sendable, Equatable {
    public var name: String
    /// V2 datatype: FP32, INT32, INT64, UINT8 or BYTES.
    public var datatype: String
    /// With the batch dimension first; -1 for a variable dimension.
    public var shape: [Int]
    /// What a client puts in or gets out ("logits", "probabilities", "raw
    /// 8-bit pixels, preprocessed by the server", ...). Not part of V2; V2
    /// clients ignore it.
    public var description: String?

    public init(name: String, datatype: String = "FP32", shape: [Int], description: String? = nil) {
        self.name = name
        self.datatype = datatype
        self.shape = shape
        self.description = description
    }
}

/// How the server turns what a client sends into the model's input: what a
/// client needs to call the model without reading config.json on disk.
public struct InputPreprocessing: Codable, Sendable, Equatable {
    public struct Image: Codable, Sendable, Equatable {
        /// "grayscale" or "rgb".
        public var color: String
        public var height: Int
        public var width: Int
        public var resize: String
        /// input = (pixel * scale - mean) / std, per channel; pixels 0...255.
        public var scale: Float
        public var mean: [Float]
        public var std: [Float]
        public var invert: Bool

        public init(color: String, height: Int, width: Int, resize: String, scale: Float, mean: [Float], std: [Float], invert: Bool) {
            self.color = color
            self.height = height
            self.width = width
            self.resize = resize
            self.scale = scale
            self.mean = mean
            self.std = std
            self.invert = invert
        }
    }
    public struct Text: Codable, Sendable, Equatable {
        public var lowercase: Bool
        /// Longest accepted text, in tokens.
        public var maxLength: Int?
        /// Token ids run from 0 ("<pad>") to vocabularySize - 1; 1 is "<unk>".
        public var vocabularySize: Int

        public init(lowercase: Bool, maxLength: Int?, vocabularySize: Int) {
            self.lowercase = lowercase
            self.maxLength = maxLength
            self.vocabularySize = vocabularySize
        }
        enum CodingKeys: String, CodingKey {
            case lowercase
            case maxLength = "max_length"
            case vocabularySize = "vocabulary_size"
        }
    }
    public var image: Image?
    public var text: Text?

    public init(image: Image? = nil, text: Text? = nil) {
        self.image = image
        self.text = text
    }
}

/// What a model version takes and returns, by name: the V2 metadata, the
/// inputs V2 infer accepts and the outputs it can return.
///
/// Inputs: "input" is the model's own input ([N, ...] FP32, or INT32/INT64
/// token ids for a text model). An image model also declares "image" (UINT8
/// pixels, [N, H, W] or [N, C, H, W], preprocessed by the server as classify
/// does); a text model declares "text" (BYTES, [N], tokenized by the server).
/// A request sends exactly one of them.
///
/// Outputs: "output" is the model's last layer; a model with labels also
/// declares "probabilities", the softmax of "output" over its last axis.
public struct ModelSignature: Codable, Sendable, Equatable {
    public var inputs: [TensorMetadata]
    public var outputs: [TensorMetadata]
    /// Class names, index = position in the last axis of "output".
    public var labels: [String]
    public var preprocessing: InputPreprocessing?

    public init(inputs: [TensorMetadata], outputs: [TensorMetadata], labels: [String], preprocessing: InputPreprocessing?) {
        self.inputs = inputs
        self.outputs = outputs
        self.labels = labels
        self.preprocessing = preprocessing
    }

    public static let modelInput = "input"
    public static let imageInput = "image"
    public static let textInput = "text"
    public static let modelOutput = "output"
    public static let probabilitiesOutput = "probabilities"
}

extension ServableVersion {
    /// The signature this version serves (computed from its shapes, config and files).
    public var signature: ModelSignature {
        let input = [-1] + model.inputShape
        let output = [-1] + model.outputShape
        var inputs: [TensorMetadata] = []
        var preprocessing = InputPreprocessing()
        if let vocabulary = resources.vocabulary {
            inputs.append(TensorMetadata(name: ModelSignature.modelInput, datatype: "INT64", shape: input,
                                         description: "token ids (INT32 or INT64), 0 pads; the text input does this for you"))
            inputs.append(TensorMetadata(name: ModelSignature.textInput, datatype: "BYTES", shape: [-1],
                                         description: "UTF-8 texts, tokenized by the server"))
            preprocessing.text = .init(lowercase: resources.tokenizer?.lowercase ?? true, maxLength: resources.maxLength,
                                       vocabularySize: vocabulary.count)
        } else {
            inputs.append(TensorMetadata(name: ModelSignature.modelInput, datatype: "FP32", shape: input,
                                         description: config.preprocessing == nil ? "the model's input"
                                             : "preprocessed pixels: (pixel * scale - mean) / std, see preprocessing"))
        }
        if let p = config.preprocessing {
            let pixels = p.channels == 1 ? [-1, p.height, p.width] : [-1, p.channels, p.height, p.width]
            inputs.append(TensorMetadata(name: ModelSignature.imageInput, datatype: "UINT8", shape: pixels,
                                         description: "raw 8-bit pixels, preprocessed by the server as classify does"))
            preprocessing.image = .init(color: p.channels == 1 ? "grayscale" : "rgb", height: p.height, width: p.width,
                                        resize: p.resize.rawValue, scale: p.scale, mean: p.mean, std: p.std, invert: p.invert)
        }
        // A detector's output is its raw head, decoded by the client (or by the detect route).
        let head = resources.detection.map {
            "the raw YOLO head [N, \($0.anchors.count) anchors x (5 + \($0.classes) classes), H / \($0.stride), W / \($0.stride)]: "
                + "per anchor t_x, t_y, t_w, t_h, objectness logit, class logits (detection.json holds the anchors)"
        }
        var outputs = [TensorMetadata(name: ModelSignature.modelOutput, datatype: "FP32", shape: output,
                                      description: head ?? (config.labels.isEmpty ? "the model's output" : "logits, one per label"))]
        if !config.labels.isEmpty, head == nil {
            outputs.append(TensorMetadata(name: ModelSignature.probabilitiesOutput, datatype: "FP32", shape: output,
                                          description: "softmax of output over its last axis, one per label"))
        }
        return ModelSignature(inputs: inputs, outputs: outputs, labels: config.labels,
                              preprocessing: preprocessing.image == nil && preprocessing.text == nil ? nil : preprocessing)
    }
}
