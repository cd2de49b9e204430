"""Bookbot: a chatbot API that answers readers' questions from a book, with links to the exact section."""

__version__ = "0.1.0"
