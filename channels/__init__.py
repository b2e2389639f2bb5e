"""The conversation model and one adapter per platform; importing the package loads no SDK."""
