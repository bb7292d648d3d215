/// Draws detections on an image: a box outline per detection in its class's
/// colour and a filled label tag ("label 0.93") at its top-left corner, in a
/// 5 x 7 bitmap font. Line width and text size grow with the image.
public struct BoxPainter: Sendable {
    /// Outline width in pixels (nil: 1 per 250 pixels of the shorter side, at least 1).
    public var lineWidth: Int?
    /// Font scale (nil: 1 per 300 pixels of the shorter side, at least 1).
    public var textScale: Int?

    public init(lineWidth: Int? = nil, textScale: Int? = nil) { (self.lineWidth, self.textScale) = (lineWidth, textScale) }

    /// Tab10-like colours, by class index.
    static let palette: [(UInt8, UInt8, UInt8)] = [
        (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
        (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
    ]

    public static func color(of label: Int) -> (UInt8, UInt8, UInt8) { palette[((label % palette.count) + palette.count) % palette.count] }

    /// An RGB copy of `image` with `detections` drawn; `names[label]` names
    /// each class (the index when out of range). Boxes are clipped to the image.
    public func draw(_ detections: [Detection], on image: Image, names: [String]) -> Image {
        var canvas = Canvas(image.channels == 3 ? image : image.rgb())
        let side = min(image.width, image.height)
        let line = max(1, lineWidth ?? side / 250), scale = max(1, textScale ?? side / 300)
        // Lowest score first, so the most confident boxes end on top.
        for d in detections.sorted(by: { $0.score < $1.score }) {
            let b = d.box.clipped(width: Double(image.width), height: Double(image.height))
            let x1 = Int(b.x1.rounded(.down)), y1 = Int(b.y1.rounded(.down))
            let x2 = Int(b.x2.rounded(.up)) - 1, y2 = Int(b.y2.rounded(.up)) - 1
            guard x2 >= x1, y2 >= y1 else { continue }
            let c = Self.color(of: d.label)
            for t in 0..<line {
                canvas.fill(x1, y1 + t, x2, y1 + t, c); canvas.fill(x1, y2 - t, x2, y2 - t, c)
                canvas.fill(x1 + t, y1, x1 + t, y2, c); canvas.fill(x2 - t, y1, x2 - t, y2, c)
            }
            let name = names.indices.contains(d.label) ? names[d.label] : String(d.label)
            let text = "\(name) \(String(Int((d.score * 100).rounded())))%"
            let w = text.count * 6 * scale + scale, h = 9 * scale
            // Above the box when there is room, else inside its top edge.
            let ty = y1 - h >= 0 ? y1 - h : y1
            canvas.fill(x1, ty, x1 + w - 1, ty + h - 1, c)
            let ink: (UInt8, UInt8, UInt8) = Int(c.0) * 299 + Int(c.1) * 587 + Int(c.2) * 114 > 140_000 ? (0, 0, 0) : (255, 255, 255)
            canvas.text(text, x: x1 + scale, y: ty + scale, scale: scale, color: ink)
        }
        return canvas.image
    }

    struct Canvas {
        let width: Int, height: Int
        var pixels: [UInt8]
        init(_ image: Image) { (width, height, pixels) = (image.width, image.height, image.pixels) }
        var image: Image { Image(width: width, height: height, channels: 3, pixels: pixels) }

        /// Fills the rectangle [x1, x2] x [y1, y2], clipped to the canvas.
        mutating func fill(_ x1: Int, _ y1: Int, _ x2: Int, _ y2: Int, _ c: (UInt8, UInt8, UInt8)) {
            let xa = max(0, x1), xb = min(width - 1, x2), ya = max(0, y1), yb = min(height - 1, y2)
            guard xa <= xb, ya <= yb else { return }
            for y in ya...yb {
                for x in xa...xb {
                    let i = (y * width + x) * 3
                    (pixels[i], pixels[i + 1], pixels[i + 2]) = c
                }
            }
        }

        mutating func text(_ s: String, x: Int, y: Int, scale: Int, color: (UInt8, UInt8, UInt8)) {
            for (k, ch) in s.uppercased().enumerated() {
                let columns = BitmapFont.glyph(ch)
                for (col, bits) in columns.enumerated() {
                    for row in 0..<7 where bits & (1 << row) != 0 {
                        let px = x + (k * 6 + col) * scale, py = y + row * scale
                        fill(px, py, px + scale - 1, py + scale - 1, color)
                    }
                }
            }
        }
    }
}

/// A 5 x 7 font: five column bytes per glyph, bit 0 the top row (the classic
/// HD44780-style glyphs). Upper-case letters, digits and a little punctuation;
/// anything else draws as "?".
enum BitmapFont {
    static func glyph(_ c: Character) -> [UInt8] { glyphs[c] ?? glyphs["?"]! }

    static let glyphs: [Character: [UInt8]] = [
        " ": [0, 0, 0, 0, 0], "?": [0x02, 0x01, 0x51, 0x09, 0x06], ".": [0x00, 0x60, 0x60, 0x00, 0x00],
        "-": [0x08, 0x08, 0x08, 0x08, 0x08], "/": [0x20, 0x10, 0x08, 0x04, 0x02], ":": [0x00, 0x36, 0x36, 0x00, 0x00],
        "_": [0x40, 0x40, 0x40, 0x40, 0x40], "%": [0x23, 0x13, 0x08, 0x64, 0x62], "(": [0x00, 0x1C, 0x22, 0x41, 0x00],
        ")": [0x00, 0x41, 0x22, 0x1C, 0x00], "'": [0x00, 0x05, 0x03, 0x00, 0x00], ",": [0x00, 0x50, 0x30, 0x00, 0x00],
        "0": [0x3E, 0x51, 0x49, 0x45, 0x3E], "1": [0x00, 0x42, 0x7F, 0x40, 0x00], "2": [0x42, 0x61, 0x51, 0x49, 0x46],
        "3": [0x21, 0x41, 0x45, 0x4B, 0x31], "4": [0x18, 0x14, 0x12, 0x7F, 0x10], "5": [0x27, 0x45, 0x45, 0x45, 0x39],
        "6": [0x3C, 0x4A, 0x49, 0x49, 0x30], "7": [0x01, 0x71, 0x09, 0x05, 0x03], "8": [0x36, 0x49, 0x49, 0x49, 0x36],
        "9": [0x06, 0x49, 0x49, 0x29, 0x1E],
        "A": [0x7E, 0x11, 0x11, 0x11, 0x7E], "B": [0x7F, 0x49, 0x49, 0x49, 0x36], "C": [0x3E, 0x41, 0x41, 0x41, 0x22],
        "D": [0x7F, 0x41, 0x41, 0x22, 0x1C], "E": [0x7F, 0x49, 0x49, 0x49, 0x41], "F": [0x7F, 0x09, 0x09, 0x09, 0x01],
        "G": [0x3E, 0x41, 0x49, 0x49, 0x7A], "H": [0x7F, 0x08, 0x08, 0x08, 0x7F], "I": [0x00, 0x41, 0x7F, 0x41, 0x00],
        "J": [0x20, 0x40, 0x41, 0x3F, 0x01], "K": [0x7F, 0x08, 0x14, 0x22, 0x41], "L": [0x7F, 0x40, 0x40, 0x40, 0x40],
        "M": [0x7F, 0x02, 0x0C, 0x02, 0x7F], "N": [0x7F, 0x04, 0x08, 0x10, 0x7F], "O": [0x3E, 0x41, 0x41, 0x41, 0x3E],
        "P": [0x7F, 0x09, 0x09, 0x09, 0x06], "Q": [0x3E, 0x41, 0x51, 0x21, 0x5E], "R": [0x7F, 0x09, 0x19, 0x29, 0x46],
        "S": [0x46, 0x49, 0x49, 0x49, 0x31], "T": [0x01, 0x01, 0x7F, 0x01, 0x01], "U": [0x3F, 0x40, 0x40, 0x40, 0x3F],
        "V": [0x1F, 0x20, 0x40, 0x20, 0x1F], "W": [0x3F, 0x40, 0x38, 0x40, 0x3F], "X": [0x63, 0x14, 0x08, 0x14, 0x63],
        "Y": [0x07, 0x08, 0x70, 0x08, 0x07], "Z": [0x61, 0x51, 0x49, 0x45, 0x43],
    ]
}
