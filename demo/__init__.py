"""The Gradio demo."""
