"""The backprop tutor: answers gradient-descent questions with the learner's own numbers."""

__version__ = "0.1.0"
