import DLNN
