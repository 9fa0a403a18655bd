"""Analysis: detection, alignment and classification run on frames and images (the engines), and their result rows."""
