import os

import torch

# one thread: the suite runs many small models, where thread start-up costs more than it gains
torch.set_num_threads(1)
os.environ.setdefault("MINIALIGN_QUIET", "1")
