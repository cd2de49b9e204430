/* The "Ask the book" widget is being built. */
