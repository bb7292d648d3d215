import DLText
import XCTest

final class DetokenizerTests: XCTestCase {
    func testSpanishPunctuation() {
        XCTAssertEqual(Detokenizer.detokenize(["¿", "Dónde", "está", "el", "niño", "?"]), "¿Dónde está el niño?")
        XCTAssertEqual(Detokenizer.detokenize(["¡", "Qué", "año", "!"]), "¡Qué año!")
        XCTAssertEqual(Detokenizer.detokenize(["Dijo", ":", "«", "Sí", ",", "señor", "»", "."]), "Dijo: «Sí, señor».")
        XCTAssertEqual(Detokenizer.detokenize(["(", "véase", "Génesis", "3", ":", "16", ")", ";", "luego", "…"]),
                       "(véase Génesis 3:16); luego…")
        XCTAssertEqual(Detokenizer.detokenize(["El", "\"", "menú", "\"", "y", "la", "\"", "barra", "\"", "."]),
                       "El \"menú\" y la \"barra\".")
        XCTAssertEqual(Detokenizer.detokenize(["1", ",", "5", "%", "de", "pingüinos"]), "1,5 % de pingüinos")
        XCTAssertEqual(Detokenizer.detokenize(["don", "'", "t", "go", "-", "now"]), "don't go - now")
        XCTAssertEqual(Detokenizer.detokenize([]), "")
    }

    func testTidyRemovesStraySpacesOnly() {
        XCTAssertEqual(Detokenizer.tidy("¿ Qué tal ? ¡ Muy bien !"), "¿Qué tal? ¡Muy bien!")
        XCTAssertEqual(Detokenizer.tidy("Hola , mundo . ( nota )"), "Hola, mundo. (nota)")
        XCTAssertEqual(Detokenizer.tidy("« Venid » , dijo"), "«Venid», dijo")
        XCTAssertEqual(Detokenizer.tidy("El prefijo « SFDocuments. » es facultativo , dijo :"), "El prefijo «SFDocuments.» es facultativo, dijo:")
        XCTAssertEqual(Detokenizer.tidy("Pulse el botón \" Aceptar \" ( o Intro ) ."), "Pulse el botón \"Aceptar\" (o Intro).")
        // Spaces the text's own punctuation explains stay (cases from the LibreOffice help).
        for good in ["Valores: 0, 1, 5, 4, 3", "entrecomillarlos (\" \").", "(a, c, d, /, :), (#, 0, %, E)", "corchetes, «[ ]».",
                     "declaración: loadLibrary(\"ScriptForge\") • Los", "50 % de 3,5", "Él dijo \"sí\" y \"no\"",
                     "¿Dónde está el niño?", "Dijo: «Sí, señor».", "Pulse Aceptar (o Intro).", "Versículo 3:16, 1,5 €.",
                     "Hola...", "El \"menú\" y la \"barra\"."] {
            XCTAssertEqual(Detokenizer.tidy(good), good)
        }
    }
}
