import DLTensor
print("dlserve")
