"""Maps: sliding-window inference, blending, and the pictures people look at."""
