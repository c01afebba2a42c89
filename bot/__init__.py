"""绩效积分机器人: behaviour points in WeCom, DingTalk and Feishu."""
