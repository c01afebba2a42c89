"""The words of an evidence export (证据链导出): sheet names, column headers, labels and the
README that travels in the zip."""

from __future__ import annotations

FILENAME = "evidence-{employee_no}-{stamp}.zip"
INDEX_NAME = "index.xlsx"
PROOF_NAME = "chain-proof.json"
README_NAME = "README.txt"
PHOTO_NAME = "photos/evidence-{evidence_id}.{ext}"

SHEET_SUMMARY = "说明"
SHEET_CLAIMS = "申领"
SHEET_DECISIONS = "决定记录"
SHEET_APPEALS = "申诉"
SHEET_LEDGER = "积分流水"

SUMMARY_HEADERS = ("项目", "内容")
SUMMARY_ROWS = (
    ("工号", "{employee_no}"),
    ("姓名", "{name}"),
    ("部门", "{department}"),
    ("时间范围", "{start} 至 {end}（近 {months} 个月）"),
    ("导出时间", "{end}"),
    ("申领", "{claims} 条（照片 {photos} 张）"),
    ("申诉", "{appeals} 条"),
    ("积分流水", "{entries} 条，合计 {points} 分"),
    ("哈希链证明", "{proof}"),
)
PROOF_AT = "chain-proof.json：截至账本第 {seq} 条（{at}）"
NO_PROOF = "账本还没有任何记录，无需证明"
CLAIM_HEADERS = (
    "申领编号", "提交时间", "规则编号", "规则", "分值", "备注", "状态", "审核人", "决定时间",
    "驳回原因", "入账积分", "照片文件", "照片文件 SHA-256", "原图 SHA-256（上传时）", "拍摄时间",
)  # fmt: skip
DECISION_HEADERS = ("时间", "操作", "对象", "操作人", "详情")
APPEAL_HEADERS = (
    "申诉编号", "申领编号", "提交时间", "申诉理由", "原驳回人", "原驳回时间", "原驳回原因",
    "复核人", "截止时间", "状态", "决定人", "决定时间", "决定理由", "改判积分", "积分流水序号",
)  # fmt: skip
LEDGER_HEADERS = (
    "序号", "时间", "积分", "类型", "类别", "摘要", "申领编号", "申诉编号", "规则", "活动",
    "冲正序号", "经办人", "哈希",
)  # fmt: skip
CLAIM_STATES = {"pending": "待审核", "approved": "已通过", "rejected": "已驳回",
                "withdrawn": "已撤回"}  # fmt: skip
APPEAL_STATES = {"pending": "待复核", "overturned": "改判通过", "upheld": "维持驳回"}
ENTRY_KINDS = {"claim": "申领", "bonus": "活动奖励", "appeal": "申诉改判", "reversal": "冲正",
               "redemption": "兑换"}  # fmt: skip
ACTIONS = {
    "claim.submit": "提交申领",
    "claim.approve": "通过",
    "claim.reject": "驳回",
    "appeal.submit": "提交申诉",
    "appeal.overturn": "改判通过",
    "appeal.uphold": "维持驳回",
}
OBJECTS = {"claim": "申领 #{id}", "appeal": "申诉 #{id}"}
DETAIL_KEYS = {"rule": "规则", "points": "积分", "reason": "理由", "claim": "申领", "entry": "流水"}
PHOTO_MISSING = "（文件缺失）"
NONE = "无"
SYSTEM = "系统"

README = """证据链导出 · {name}（{employee_no}）
时间范围：{start} 至 {end}

本压缩包包含：
  index.xlsx        申领、审核与申诉决定、申诉、积分流水的索引（每张表一类）
  photos/           申领所附的现场照片（index.xlsx「申领」表的「照片文件」列对应文件名，
                    「照片文件 SHA-256」可用来核对文件没有被替换）
  chain-proof.json  以上积分流水的哈希链证明（系统密钥签名）

如何核对积分记录没有被删改：
  把 chain-proof.json 交给系统管理员，在服务器上运行
      python -m bot ledger verify --checkpoint chain-proof.json
  显示 "ok" 即证明文件未被改动，且账本中这段时间的记录与导出时一致、没有缺漏；
  文件被改动过或账本被改写过，会显示 MISMATCH 并以非零状态退出。

Evidence export for {employee_no}: index.xlsx (claims, decisions, appeals, ledger entries),
photos/, and chain-proof.json, the signed hash-chain proof of the ledger entries listed.
Check it with: python -m bot ledger verify --checkpoint chain-proof.json
"""
