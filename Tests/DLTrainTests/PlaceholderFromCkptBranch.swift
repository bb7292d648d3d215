// SwiftPM needs a source file in every test target; the ckpt branch has no
// DLTrain tests. Delete this file once the train branch adds real tests.
