"""MC-dropout sampling helpers that need no TensorFlow: mask drawing and the consistent dense head."""
