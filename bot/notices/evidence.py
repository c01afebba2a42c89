"""What a person is told when a photo cannot be used as evidence."""

PHOTO_TOO_LARGE = "照片超过 10 MB，请压缩后重新发送。"
PHOTO_NOT_IMAGE = "收到的文件不是图片，请发送照片。"
PHOTO_UNSUPPORTED = "只支持 JPG、PNG、WebP 格式的照片。"
PHOTO_CORRUPT = "照片文件已损坏或不完整，请重新发送。"
PHOTO_TOO_MANY_PIXELS = "照片分辨率过高，请缩小后重新发送。"
PHOTO_NOT_SAVED = "系统暂时无法保存照片，请稍后再发送。"
