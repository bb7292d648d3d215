import DLTensor
