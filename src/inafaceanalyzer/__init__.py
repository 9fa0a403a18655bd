"""inafaceanalyzer: face detection, tracking, gender and age analysis of images and videos."""
__version__ = "1.0.0.dev0"
