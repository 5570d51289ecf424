"""Files in and out, one frame at a time: reading frames and masks from videos, folders or one image
(``video``), encoding video files through PyAV (``encode``) and copying the source's audio (``audio``)."""
