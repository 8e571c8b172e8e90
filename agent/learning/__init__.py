"""A learned ask-vs-recommend policy: state features, a Q-network trained on the MCR simulator, a tree."""
