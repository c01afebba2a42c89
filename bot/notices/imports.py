"""What an import of an HR data file (org, departments, rules) reports, line by line: English for
the operator's log, the Chinese in brackets for HR."""

from __future__ import annotations

# Whole file
EMPTY_FILE = "empty file, expected a header row (文件为空)"
UNREADABLE = "unreadable CSV: {error} (无法解析的 CSV)"
MISSING_COLUMNS = "header lacks column(s) {columns} (表头缺少列)"
NOTHING_CHANGED = (
    "nothing was changed: {n} line(s) with errors; fix them and import again "
    "(有 {n} 行错误，未做任何更改，请修正后重新导入)"
)
IGNORED_COLUMNS = "ignored column(s) not used by this import: {columns} (以下列不会导入：{columns})"
TOTALS = (
    "created {c}, updated {u}, unchanged {s}, rejected {r} (新增 {c}，更新 {u}，未变 {s}，拒绝 {r})"
)
REMOVED = "; removed {n} (移除 {n})"

# Org and departments
PATH_TOO_LONG = "department path longer than {limit} characters (部门路径过长)"
SEGMENT_TOO_LONG = "department name longer than {limit} characters (部门名称过长)"
NO_EMPLOYEE_NO = "employee_no is empty (工号为空)"
EMPLOYEE_NO_TOO_LONG = "employee_no longer than {limit} characters (工号过长)"
NO_NAME = "name is empty (姓名为空)"
NAME_TOO_LONG = "name longer than {limit} characters (姓名过长)"
BAD_ROLE = "role must be one of {roles}, got {value!r} (角色无效)"
ID_TOO_LONG = "{column} longer than {limit} characters (账号过长)"
BAD_PLATFORM = (
    "preferred_platform must be empty or one of {platforms}, got {value!r} (首选平台无效)"
)
DUPLICATE_EMPLOYEE = "employee_no {no} appears on lines {lines} (工号重复)"
DUPLICATE_ID = "{column} {external_id} appears on lines {lines} (同一账号出现在多行)"
ID_TAKEN = "{column} {external_id} already belongs to {owner} (账号已被他人使用)"
SUPERVISOR_REJECTED = "supervisor {no} was rejected on line {line} (主管所在行有错误)"
UNKNOWN_SUPERVISOR = "unknown supervisor {no} (主管工号不存在)"
SUPERVISOR_CYCLE = "supervisor cycle {loop} (主管关系成环)"
NO_DEPARTMENT = "department is empty (部门为空)"
CHAT_ID_TOO_LONG = "{column} longer than {limit} characters (群 ID 过长)"
DUPLICATE_DEPARTMENT = "department {path} appears on lines {lines} (部门重复)"

# Rules
DUPLICATE_CODE = "duplicate code {code}, first on line {line} (编号重复)"
CELL_EMPTY = "{column} is empty ({zh}为空)"
CELL_TOO_LONG = "{column} longer than {limit} characters ({zh}超过 {limit} 个字符)"
NOT_BOOLEAN = "{column} must be true or false, got {value!r} (须填 true 或 false)"
BAD_CAP = "{column} must be empty or a positive integer, got {value!r} (上限须留空或填正整数)"
BAD_GRADE = "grade must be A, B or C, got {value!r} (等级须为 A/B/C)"
BAD_POINTS = "points must be a whole number from {low} to {high}, got {value!r} (分值须为 {low}–{high} 的整数)"
CODE_TAKEN = "code {code} is already in use (编号已存在)"
CAPS_INVERTED = "weekly_cap {weekly} is below daily_cap {daily} (周上限不能小于日上限)"
RULE_COLUMN_NAMES = {"code": "编号", "category": "类别", "title": "名称"}

# Module owners
MODULE_COLUMN_NAMES = {"module": "模块", "owner_no": "负责人工号"}
UNKNOWN_OWNER = "owner_no {no} is not an active employee (负责人工号不存在或已停用)"
DUPLICATE_OWNER = "owner {no} of module {module} is already on line {line} (重复的负责人)"

# Org CSV headers HR may write in Chinese (design §10 names the English ones), and role words.
ORG_COLUMN_ALIASES = {
    "工号": "employee_no",
    "员工编号": "employee_no",
    "姓名": "name",
    "部门": "department",
    "角色": "role",
    "主管工号": "supervisor_no",
    "上级工号": "supervisor_no",
    "首选平台": "preferred_platform",
}
# A platform's user-id column may also be headed with its Chinese label: 企业微信账号, 钉钉ID, …
PLATFORM_ID_HEADERS = ("{label}账号", "{label}ID", "{label}用户ID", "{label}userid")
ROLE_WORDS = {
    "员工": "worker",
    "工人": "worker",
    "主管": "supervisor",
    "班组长": "supervisor",
    "人事": "hr",
    "管理员": "admin",
}

# Uploads (console)
OLD_EXCEL = "old .xls workbook; save as .xlsx or 'CSV UTF-8' (旧版 .xls 文件，请另存为 .xlsx 或「CSV UTF-8」)"
NOT_UTF8 = (
    "not UTF-8; in Excel save as 'CSV UTF-8' or .xlsx "
    "(文件不是 UTF-8 编码，请在 Excel 中另存为「CSV UTF-8」或 .xlsx)"
)
BAD_XLSX = "not a readable .xlsx workbook (无法读取的 .xlsx 文件)"
TOO_MANY_ROWS = "more than {limit} rows (超过 {limit} 行)"
