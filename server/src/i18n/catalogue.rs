//! The catalogue: every rule a request can break and every problem code, each with its English
//! and Chinese text (the glossary's words). `{name}` stands for a figure of the message.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Lang;

macro_rules! rules {
    ($( $variant:ident = $code:literal { en: $en:literal, zh: $zh:literal } )*) => {
        /// A stable code naming the rule a field broke (`required_for`, `too_short`…); the
        /// client may render its own text from it and `params`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum Rule {
            $( #[serde(rename = $code)] $variant, )*
        }

        impl Rule {
            pub const ALL: &'static [Rule] = &[$(Rule::$variant),*];

            pub fn code(self) -> &'static str {
                match self { $(Rule::$variant => $code,)* }
            }

            pub fn template(self, lang: Lang) -> &'static str {
                match (self, lang) {
                    $( (Rule::$variant, Lang::En) => $en, (Rule::$variant, Lang::Zh) => $zh, )*
                }
            }
        }
    };
}

rules! {
    Invalid = "invalid" { en: "is invalid", zh: "取值无效" }
    Required = "required" { en: "required", zh: "必填" }
    RequiredFor = "required_for" {
        en: "say why ({decision}): the inspector and the village's secretary read it",
        zh: "{decision}须说明理由：验收员和村书记会看到"
    }
    SendBackReasonRequired = "send_back_reason_required" {
        en: "say why the declaration goes back: the village's secretary reads it",
        zh: "请说明退回申报的理由：村书记会看到"
    }
    ReopenReasonRequired = "reopen_reason_required" {
        en: "say why the decision is reopened: it stays on the record",
        zh: "请说明重新审核的理由：理由会留档"
    }
    AlertsCommentRequired = "alerts_comment_required" {
        en: "say why the alerts do not stand in the way of approval",
        zh: "请说明为何严重疑点不妨碍通过"
    }
    TooShort = "too_short" { en: "must be at least {min} characters", zh: "至少 {min} 个字符" }
    TooLong = "too_long" { en: "must be at most {max} characters", zh: "最多 {max} 个字符" }
    TooLongGot = "too_long_got" {
        en: "must be at most {max} characters, got {got}",
        zh: "最多 {max} 个字符，现有 {got} 个"
    }
    Between = "between" { en: "must be between {min} and {max}", zh: "须在 {min} 到 {max} 之间" }
    BetweenMetres = "between_metres" {
        en: "must be between {min} and {max} metres",
        zh: "须在 {min} 到 {max} 米之间"
    }
    BetweenOrNull = "between_or_null" {
        en: "must be between {min} and {max}, or null",
        zh: "须在 {min} 到 {max} 之间，或留空"
    }
    OneOf = "one_of" { en: "must be one of: {allowed}", zh: "须为以下之一：{allowed}" }
    NotUuid = "not_uuid" { en: "must be a UUID", zh: "须为 UUID 格式的编号" }
    ClientUuid = "client_uuid" {
        en: "must be a UUID chosen by the client",
        zh: "须为客户端生成的 UUID 编号"
    }
    Sha256Hex = "sha256_hex" {
        en: "must be 64 lowercase hex digits",
        zh: "须为 64 位小写十六进制数字"
    }
    CodeFormat = "code_format" {
        en: "must be 2–40 lowercase letters, digits, _ or -, starting with a letter",
        zh: "须为 2–40 个小写字母、数字、_ 或 -，以字母开头"
    }
    UsernameFormat = "username_format" {
        en: "must be 3–64 lowercase letters, digits, '.', '_' or '-'",
        zh: "须为 3–64 个小写字母、数字、“.”、“_”或“-”"
    }
    NotInScope = "not_in_scope" { en: "no such {what} in your scope", zh: "您的范围内没有此{what}" }
    NoSuch = "no_such" { en: "no such {what}", zh: "没有此{what}" }
    NotFound = "not_found" { en: "{what} not found", zh: "未找到{what}" }
    Duplicate = "duplicate" { en: "appears twice in the list", zh: "在列表中重复出现" }
    NotAnItem = "not_an_item" { en: "not an item of this checklist", zh: "不是此验收表的项目" }
    ItemComputed = "item_computed" {
        en: "this item is computed by the server; do not answer it",
        zh: "此项由服务器计算，请勿填写"
    }
    LatRange = "lat_range" { en: "must be between -90 and 90", zh: "纬度须在 -90 到 90 之间" }
    LonRange = "lon_range" { en: "must be between -180 and 180", zh: "经度须在 -180 到 180 之间" }
    VillageNeedsPosition = "village_needs_position" {
        en: "a village needs lat and lon",
        zh: "村须填写经纬度"
    }
    CountyNoParent = "county_no_parent" { en: "a county has no parent", zh: "县没有上级组织单位" }
    OrgCodeFormat = "org_code_format" {
        en: "must be 1–64 letters, digits, '-', '_' or '.'",
        zh: "须为 1–64 个字母、数字、“-”、“_”或“.”"
    }
    NotANumber = "not_a_number" { en: "{value} is not a number", zh: "{value} 不是数字" }
    CodeOnLine = "code_on_line" {
        en: "{code} already on line {first}",
        zh: "{code} 已在第 {first} 行出现"
    }
    ParentCodeUnknown = "parent_code_unknown" {
        en: "no org unit has code {code} (list parents first)",
        zh: "没有代码为 {code} 的组织单位（请先列出上级）"
    }
    CodeOutsideScope = "code_outside_scope" {
        en: "{code} is taken by an org unit outside your scope",
        zh: "{code} 已被您管辖范围外的组织单位使用"
    }
    CodeOtherPlace = "code_other_place" {
        en: "{code} exists with another level or parent",
        zh: "{code} 已存在，但级别或上级不同"
    }
    ParentRequired = "parent_required" { en: "a parent is required", zh: "须指定上级组织单位" }
    ParentLevel = "parent_level" {
        en: "the parent of a {level} must be a {parent}",
        zh: "{level}的上级须为{parent}"
    }
    OnlyVillageMoves = "only_village_moves" {
        en: "only a village moves (to another township of its county)",
        zh: "只有村可以移动（到本县的其他乡镇）"
    }
    TownshipOfCounty = "township_of_county" {
        en: "must be a township of the village's county",
        zh: "须为该村所在县的乡镇"
    }
    CountiesByCli = "counties_by_cli" {
        en: "only the operator's command line creates counties",
        zh: "县只能由运维命令行创建"
    }
    InFuture = "in_future" {
        en: "is in the future (today is {today} in the county)",
        zh: "是未来的日期（县里今天是 {today}）"
    }
    BeforeRegistered = "before_registered" {
        en: "is before the mentee was registered ({date})",
        zh: "早于帮带对象的登记日期（{date}）"
    }
    DateFormat = "date_format" {
        en: "expected a date like 2026-11-20, got {text}",
        zh: "日期格式应如 2026-11-20，收到的是 {text}"
    }
    NotBefore = "not_before" {
        en: "must not be before {other} ({date})",
        zh: "不得早于 {other}（{date}）"
    }
    NotAfter = "not_after" { en: "must not be after {other}", zh: "不得晚于 {other}" }
    QuarterFormat = "quarter_format" {
        en: "must be a quarter like 2026-Q4",
        zh: "季度格式应如 2026-Q4（2026年第4季度）"
    }
    OutsideWindow = "outside_window" {
        en: "{quarter} declarations are inspected from {opens_on} to {closes_on}; this visit started on {started_on}",
        zh: "{quarter}的申报在 {opens_on} 至 {closes_on} 验收；此次验收开始于 {started_on}"
    }
    WindowOpensEarly = "window_opens_early" {
        en: "a window opens on or after its quarter's first day ({date})",
        zh: "验收期最早从本季度第一天（{date}）开始"
    }
    WindowClosesLate = "window_closes_late" {
        en: "a window closes at most {days} days after its quarter ends ({date})",
        zh: "验收期最晚在季度结束后 {days} 天（{date}）结束"
    }
    DeclarationsOpenFor = "declarations_open_for" {
        en: "declarations are open for {quarter} only",
        zh: "目前只接受 {quarter} 的申报"
    }
    SelfDeactivate = "self_deactivate" {
        en: "you cannot deactivate yourself",
        zh: "不能停用自己的账号"
    }
    ReviewerNeedsBody = "reviewer_needs_body" {
        en: "a reviewer belongs to a verifying body: department or association",
        zh: "审核员须属于核验单位：县人口计生部门或县计生协"
    }
    RolePlacement = "role_placement" {
        en: "a {role} belongs to a {levels}, not a {level}",
        zh: "{role}须设在{levels}，不能设在{level}"
    }
    ReviewerBodyRole = "reviewer_body_role" {
        en: "only reviewers belong to a verifying body, not a {role}",
        zh: "只有审核员属于核验单位，{role}不属于"
    }
    NotAUrl = "not_a_url" { en: "not a URL", zh: "不是有效的网址" }
    UrlScheme = "url_scheme" {
        en: "must be an http:// or https:// URL",
        zh: "须为 http:// 或 https:// 开头的网址"
    }
    UrlNoHost = "url_no_host" { en: "must name a host", zh: "网址须包含主机名" }
    UrlCredentials = "url_credentials" {
        en: "must not carry credentials",
        zh: "网址不得包含用户名或密码"
    }
    HostUnresolvable = "host_unresolvable" {
        en: "cannot resolve {host}: no such host",
        zh: "无法解析网址中的主机名：没有这个主机"
    }
    HostNoAnswer = "host_no_answer" {
        en: "cannot resolve {host}: no answer within {seconds} s",
        zh: "无法解析网址中的主机名：{seconds} 秒内无应答"
    }
    TargetNotAllowed = "target_not_allowed" {
        en: "target address not allowed",
        zh: "不允许的推送地址：该网址指向内网或保留地址"
    }
    EventsRequired = "events_required" {
        en: "name at least one event type",
        zh: "请至少选择一种事件类型"
    }
    UnknownEvent = "unknown_event" {
        en: "unknown event type {event}; known: {known}",
        zh: "未知的事件类型 {event}；可用：{known}"
    }
    AtLeastOneInspection = "at_least_one_inspection" {
        en: "name at least one inspection",
        zh: "请至少选择一项验收"
    }
    AtMostInspections = "at_most_inspections" {
        en: "at most {max} inspections at a time",
        zh: "一次最多 {max} 项验收"
    }
    PhotosMin = "photos_min" {
        en: "{id} needs at least {min} photo(s), the manifest has {got}",
        zh: "{id} 至少需要 {min} 张照片，清单中只有 {got} 张"
    }
    DuplicateInManifest = "duplicate_in_manifest" {
        en: "appears twice in the manifest",
        zh: "在照片清单中出现两次"
    }
    PhotoIdUsed = "photo_id_used" {
        en: "this photo id is already used; choose a new one",
        zh: "此照片编号已被使用，请换一个新编号"
    }
    SameDeclaration = "same_declaration" {
        en: "a resubmission answers the same declaration",
        zh: "重新提交须针对同一项申报"
    }
    PhotosPerItem = "photos_per_item" {
        en: "at most {max} photos per item",
        zh: "每个项目最多 {max} 张照片"
    }
    PhotosPerInspection = "photos_per_inspection" {
        en: "at most {max} photos per inspection; the manifest lists {got}",
        zh: "每次验收最多 {max} 张照片；清单中有 {got} 张"
    }
    AcknowledgeEachAlert = "acknowledge_each_alert" {
        en: "approving an inspection with alerts needs each acknowledged: {codes}",
        zh: "通过有严重疑点的验收，须逐一确认这些疑点：{codes}"
    }
    OnlyApprovalAcknowledges = "only_approval_acknowledges" {
        en: "only an approval acknowledges alerts",
        zh: "只有通过时才需确认严重疑点"
    }
    NotAnAlert = "not_an_alert" {
        en: "not an alert of this inspection: {code}",
        zh: "不是此验收的严重疑点：{code}"
    }
    ConsequenceRequired = "consequence_required" {
        en: "rejecting a renewal of a level the village holds needs a consequence: downgrade or revoke",
        zh: "复核不通过须选择处理结果：降级或取消星级"
    }
    ConsequenceOnlyHeld = "consequence_only_held" {
        en: "a consequence applies only when rejecting a level the village already holds",
        zh: "只有复核不通过（村已有该星级）时才有处理结果"
    }
    OnlyRejectionConsequence = "only_rejection_consequence" {
        en: "only a rejection has a consequence",
        zh: "只有不通过才有处理结果"
    }
    ChecklistDidNotPass = "checklist_did_not_pass" {
        en: "the checklist did not pass: {why}",
        zh: "验收表未达标：{why}"
    }
    ChecklistLevel = "checklist_level" {
        en: "this version checks level {version_level}, the declaration is for level {level}",
        zh: "此版本验收 {version_level} 星，申报的是 {level} 星"
    }
    MenteeCodeTaken = "mentee_code_taken" {
        en: "the code {code} is already used by a mentee of this village",
        zh: "编号 {code} 已被本村的另一位帮带对象使用"
    }
    MenteeLimit = "mentee_limit" {
        en: "{member} already mentors {count} people, the most a member may mentor ({max}); move one of her mentees to another member first",
        zh: "{member} 已帮带 {count} 人，达到每位会员的上限（{max} 人）；请先把一位帮带对象转给其他会员"
    }
    MemberHasMentees = "member_has_mentees" {
        en: "{member} still mentors {count} mentee(s): move her mentees to other members first",
        zh: "{member} 还在帮带 {count} 人：请先把其帮带对象转给其他会员"
    }
    MemberInactive = "member_inactive" {
        en: "{member} has been removed and cannot mentor anyone",
        zh: "{member} 已被移除，不能再帮带"
    }
    VisitConflict = "visit_conflict" {
        en: "visit {id} was recorded with a different body; a new visit needs a new id",
        zh: "此走访已用不同的内容记录过；新的走访须使用新的编号"
    }
    VisitRace = "visit_race" {
        en: "visit {id} is being recorded by another request",
        zh: "此走访正由另一个请求记录，请稍后再试"
    }
    MenteeCodeFormat = "mentee_code_format" {
        en: "must be 1–{max} letters, digits or '-' (a pseudonymous code, not a name or a phone number)",
        zh: "须为 1–{max} 个字母、数字或“-”（化名编号，不得是姓名或电话号码）"
    }
    LengthRange = "length_range" {
        en: "must be 1–{max} characters",
        zh: "须为 1–{max} 个字符"
    }
    PolicyChanged = "policy_changed" {
        en: "the policy was changed at the same time; try again",
        zh: "本县政策同时被修改，请重试"
    }
    OpenDeclarationExists = "open_declaration_exists" {
        en: "{village} already has an open declaration for {quarter}",
        zh: "{village} 在 {quarter} 已有未完成的申报"
    }
    TakenCode = "taken_code" {
        en: "an org unit with code {code} exists",
        zh: "代码为 {code} 的组织单位已存在"
    }
    UsernameTaken = "username_taken" {
        en: "the username {username} is taken",
        zh: "用户名 {username} 已被占用"
    }
    ImportRefused = "import_refused" {
        en: "{count} line(s) refused; nothing was imported (try ?dry_run=true)",
        zh: "{count} 行被拒绝，未导入任何内容（可先试运行 ?dry_run=true）"
    }
    ImportTooLarge = "import_too_large" {
        en: "an import file is limited to {max} bytes",
        zh: "导入文件最大 {max} 字节"
    }
    PhotoTooLarge = "photo_too_large" {
        en: "photos are limited to {max} bytes",
        zh: "照片最大 {max} 字节"
    }
    JsonTooLarge = "json_too_large" {
        en: "the JSON body is over the limit of {limit} bytes",
        zh: "JSON 请求体超过 {limit} 字节的上限"
    }
    MalformedJson = "malformed_json" {
        en: "malformed JSON at line {line} column {column}: {why}",
        zh: "JSON 格式错误：第 {line} 行第 {column} 列"
    }
    InspectionIs = "inspection_is" { en: "the inspection is {status}", zh: "该验收{status}" }
    ReopenTooLate = "reopen_too_late" {
        en: "a decision can be reopened within {days} days; this one was taken on {date}",
        zh: "审核决定只能在 {days} 天内重新审核；此决定作于 {date}"
    }
    ClaimedUntil = "claimed_until" {
        en: "another reviewer holds this inspection until {until}",
        zh: "另一位审核员正在处理此验收，直到 {until}"
    }
    RoleMayNot = "role_may_not" { en: "the {role} role may not do this", zh: "{role}无权进行此操作" }
    OtherBodyTurn = "other_body_turn" {
        en: "the {body} has approved this inspection; the {other}'s reviewers decide it now",
        zh: "{body}已通过此验收，现由{other}的审核员审核"
    }
    BodyDone = "body_done" {
        en: "the {body} has approved this inspection already",
        zh: "{body}已通过此验收"
    }
    WindowClosed = "window_closed" {
        en: "this declaration is {status}: its quarter's verification window has closed",
        zh: "此申报{status}：本季度的验收期已结束"
    }
    // Values of any request.
    Malformed = "malformed" { en: "{why}", zh: "格式或类型有误：{why}" }
    // A JSON body's shape, as serde words it (kept in English; the Chinese is the catalogue's).
    MissingField = "missing_field" { en: "{why}", zh: "必填" }
    UnknownField = "unknown_field" { en: "{why}", zh: "不是可用的字段，请删除" }
    UnknownVariant = "unknown_variant" {
        en: "unknown variant {got}, expected one of {allowed}",
        zh: "{got} 不是可选的值，须为以下之一：{allowed}"
    }
    MustBe = "must_be" { en: "must be {value}", zh: "须为 {value}" }
    AtLeast = "at_least" { en: "must be at least {min}", zh: "须至少为 {min}" }
    AtMost = "at_most" { en: "must be at most {max}", zh: "最多为 {max}" }
    WholeNumber = "whole_number" { en: "must be a whole number", zh: "须为整数" }
    MustBeNumber = "number" { en: "must be a number", zh: "须为数字" }
    Finite = "finite" { en: "must be a finite number", zh: "须为有限数字" }
    MustBeString = "string" { en: "must be a string", zh: "须为文字" }
    TrueOrFalse = "true_or_false" { en: "must be true or false", zh: "须为 true（是）或 false（否）" }
    NotEmpty = "not_empty" { en: "must not be empty", zh: "不得为空" }
    NoControlChars = "no_control_chars" {
        en: "must not contain control characters",
        zh: "不得包含控制字符"
    }
    StarLevelRange = "star_level_range" { en: "must be 1, 2 or 3", zh: "须为 1、2 或 3" }
    NotACursor = "not_a_cursor" {
        en: "not a cursor this server issued",
        zh: "不是本服务器发出的分页游标"
    }
    NotAnInspectionId = "not_an_inspection_id" { en: "not an inspection id", zh: "不是验收编号" }
    MemberNotInVillage = "member_not_in_village" {
        en: "no such member in the mentee's village",
        zh: "帮带对象所在村没有此会员"
    }
    MemberLogin = "member_login" {
        en: "must be a login with the member role in the member's village",
        zh: "须为该会员所在村、角色为计生协会员的登录账号"
    }
    LoginLinked = "login_linked" {
        en: "this login is already linked to {other}",
        zh: "此登录账号已关联到 {other}"
    }
    VisitTooLong = "visit_too_long" {
        en: "a visit starts at most {hours} hours before it is submitted; this one started {started} and was submitted {submitted}",
        zh: "验收开始时间最多早于提交时间 {hours} 小时；此次开始于 {started}，提交于 {submitted}"
    }
    PhonePhotoMaxPx = "phone_photo_max_px" {
        en: "must be 0 (send the original) or between {min} and {max}",
        zh: "须为 0（发送原图）或 {min} 到 {max} 之间"
    }
    VersionSuperseded = "version_superseded" {
        en: "{code} version {current} was current when this inspection started; version {used} was superseded by then",
        zh: "此次验收开始时，{code} 的现行版本是 {current}；版本 {used} 当时已被取代"
    }
    AsOfOrRange = "as_of_or_range" {
        en: "give as_of, or from and to, not both",
        zh: "请给出 as_of，或 from 和 to，不要同时给出"
    }
    RangeEnd = "range_end" {
        en: "required with the other end of the range",
        zh: "给出范围的一端时，另一端也必填"
    }
    // Declarations refused by the star engine.
    DeclarationBanned = "declaration_banned" {
        en: "the village did not regain its star level within the rectification period and may not declare an upgrade until {until}; it may renew the level it holds",
        zh: "该村未在整改期内恢复星级，{until} 前不得升级申报；可以复核现有星级"
    }
    DeclarationQuarterUsed = "declaration_quarter_used" {
        en: "stars are climbed one step a quarter: the village already declared an upgrade for {quarter}",
        zh: "星级每季度只能升一级：该村在 {quarter} 已有升级申报"
    }
    DeclarationInvalidLevel = "declaration_invalid_level" {
        en: "a star level must be 1, 2 or 3",
        zh: "星级须为 1、2 或 3"
    }
    DeclarationStepTooLarge = "declaration_step_too_large" {
        en: "star levels are climbed one step at a time: a village at level {current} may declare at most level {max}",
        zh: "星级须逐级申报：{current} 星的村最多申报 {max} 星"
    }
    DeclarationBelowCurrent = "declaration_below_current" {
        en: "the village already holds level {current}; declare level {current} to renew it",
        zh: "该村已有 {current} 星；请申报 {current} 星以复核"
    }
    // Benefits.
    AtMostBenefits = "at_most_benefits" { en: "at most {max} benefits", zh: "最多 {max} 项优惠" }
    BenefitCodeTaken = "benefit_code_taken" {
        en: "{code} is already the code of benefits[{first}]",
        zh: "{code} 已是 benefits[{first}] 的代码"
    }
    MaxLevelRange = "max_level_range" {
        en: "must be between min_level and {max}, or null",
        zh: "须在 min_level 到 {max} 之间，或留空"
    }
    // Answers and the photo manifest.
    PhotoItemNoAnswer = "photo_item_no_answer" {
        en: "a photo item takes photos only, not an answer",
        zh: "照片项目只收照片，不填答案"
    }
    HiddenUnless = "hidden_unless" {
        en: "hidden unless {item} is {equals}; a hidden item must not be answered",
        zh: "仅当 {item} 为 {equals} 时显示；隐藏的项目不得填写"
    }
    Hidden = "hidden" {
        en: "hidden; a hidden item must not be answered",
        zh: "已隐藏；隐藏的项目不得填写"
    }
    OptionList = "option_list" {
        en: "must be a list of option ids from: {allowed}",
        zh: "须为以下选项编号的列表：{allowed}"
    }
    ChosenTwice = "chosen_twice" { en: "{id} is chosen twice", zh: "{id} 被选了两次" }
    ChooseOne = "choose_one" {
        en: "required: choose at least one option",
        zh: "必填：至少选择一个选项"
    }
    ItemNotInChecklist = "item_not_in_checklist" {
        en: "{id} is not an item of this checklist",
        zh: "{id} 不是此验收表的项目"
    }
    ItemHiddenNoPhotos = "item_hidden_no_photos" {
        en: "{id} is hidden by the answers; it takes no photos",
        zh: "{id} 按所填答案不显示，不收照片"
    }
    ItemComputedNoPhotos = "item_computed_no_photos" {
        en: "{id} is computed by the server; it takes no photos",
        zh: "{id} 由服务器计算，不收照片"
    }
    // Checklist templates.
    TemplateCode = "template_code" {
        en: "must be 1 to 64 characters of a-z, 0-9 and '-'",
        zh: "须为 1–64 个字符，只含 a-z、0-9 和“-”"
    }
    IdChars = "id_chars" {
        en: "must be 1 to 64 characters of a-z, 0-9 and '_'",
        zh: "须为 1–64 个字符，只含 a-z、0-9 和“_”"
    }
    PassScore = "pass_score" {
        en: "must be a number from 0 to 100",
        zh: "须为 0 到 100 之间的数字"
    }
    TemplateNeedsItem = "template_needs_item" {
        en: "a template needs at least one item",
        zh: "验收表至少须有一个项目"
    }
    SectionIdTaken = "section_id_taken" {
        en: "another section has this id",
        zh: "另一个分组已使用此编号"
    }
    SectionNeedsItem = "section_needs_item" {
        en: "a section needs at least one item",
        zh: "每个分组至少须有一个项目"
    }
    ItemIdTaken = "item_id_taken" { en: "another item has this id", zh: "另一个项目已使用此编号" }
    OptionIdTaken = "option_id_taken" {
        en: "another option of this item has this id",
        zh: "此项目的另一个选项已使用此编号"
    }
    TemplatePhotosOver = "template_photos_over" {
        en: "the items together require more than {max} photos (photos_min), more than an inspection may carry",
        zh: "各项目要求的照片合计超过 {max} 张（photos_min），超过一次验收可带的照片数"
    }
    NoScorableItem = "no_scorable_item" {
        en: "at least one item needs a pass rule and a weight above 0, or no score can be computed",
        zh: "至少须有一个项目设有通过规则且权重大于 0，否则无法计分"
    }
    LabelZhRequired = "label_zh_required" {
        en: "a Chinese label is required",
        zh: "须填写中文名称"
    }
    LabelEnRequired = "label_en_required" {
        en: "an English label is required",
        zh: "须填写英文名称"
    }
    OnlyNumberHas = "only_number_has" {
        en: "only number items have {key}",
        zh: "只有数字项目有 {key}"
    }
    OnlyChoiceOptions = "only_choice_options" {
        en: "only choice and multi_choice items have options",
        zh: "只有单选和多选项目有选项"
    }
    OnlyTextMaxLength = "only_text_max_length" {
        en: "only text items have max_length",
        zh: "只有文字项目有 max_length"
    }
    ComputedNeedsSource = "computed_needs_source" {
        en: "a computed item needs a source (mentoring.coverage)",
        zh: "计算项目须指定来源（mentoring.coverage）"
    }
    UnknownSource = "unknown_source" {
        en: "unknown source; the known source is mentoring.coverage",
        zh: "来源未知；可用的来源是 mentoring.coverage"
    }
    OnlyComputedSource = "only_computed_source" {
        en: "only computed items have a source",
        zh: "只有计算项目有来源"
    }
    PhotoItemPhotosMin = "photo_item_photos_min" {
        en: "a photo item needs photos_min of at least 1",
        zh: "照片项目的 photos_min 至少为 1"
    }
    ComputedNoPhotos = "computed_no_photos" {
        en: "the server fills a computed item; it takes no photos",
        zh: "计算项目由服务器填写，不收照片"
    }
    WeightRange = "weight_range" {
        en: "must be a finite number of at least 0",
        zh: "须为不小于 0 的有限数字"
    }
    WeightNeedsPass = "weight_needs_pass" {
        en: "an item with a weight needs a pass rule",
        zh: "有权重的项目须设通过规则"
    }
    MinAboveMax = "min_above_max" { en: "min must not be above max", zh: "min 不得大于 max" }
    ChoiceNeedsOptions = "choice_needs_options" {
        en: "a choice item needs options",
        zh: "选择项目须有选项"
    }
    NoPassRuleForKind = "no_pass_rule_for_kind" {
        en: "text and photo items have no pass rule",
        zh: "文字和照片项目没有通过规则"
    }
    YesNoNeedsEquals = "yes_no_needs_equals" {
        en: "a yes_no pass rule needs equals",
        zh: "是否项目的通过规则须有 equals"
    }
    YesNoOnlyEquals = "yes_no_only_equals" {
        en: "a yes_no pass rule has only equals",
        zh: "是否项目的通过规则只有 equals"
    }
    OnlyYesNoEquals = "only_yes_no_equals" {
        en: "only yes_no pass rules have equals",
        zh: "只有是否项目的通过规则有 equals"
    }
    OnlyChoiceIn = "only_choice_in" {
        en: "only choice pass rules have in",
        zh: "只有选择项目的通过规则有 in"
    }
    NeedsMinOrMax = "needs_min_or_max" { en: "needs min or max", zh: "须有 min 或 max" }
    WithinItemRange = "within_item_range" {
        en: "must lie within the item's min and max",
        zh: "须在此项目的 min 与 max 之间"
    }
    ChoiceOnlyIn = "choice_only_in" {
        en: "a choice pass rule has only in",
        zh: "单选项目的通过规则只有 in"
    }
    AtLeastOneOption = "at_least_one_option" {
        en: "must list at least one option",
        zh: "至少须列出一个选项"
    }
    NotAnOption = "not_an_option" { en: "not an option of this item", zh: "不是此项目的选项" }
    ListedTwice = "listed_twice" { en: "listed twice", zh: "重复列出" }
    ChoiceNeedsIn = "choice_needs_in" {
        en: "a choice pass rule needs in",
        zh: "单选项目的通过规则须有 in"
    }
    NeedsInMinOrMax = "needs_in_min_or_max" {
        en: "needs in, min or max",
        zh: "须有 in、min 或 max"
    }
    CountsChosen = "counts_chosen" {
        en: "counts chosen options: a whole number from 0 to the number of options",
        zh: "计的是所选选项的个数：须为 0 到选项总数之间的整数"
    }
    EarlierItem = "earlier_item" {
        en: "must name an item that comes earlier in the template",
        zh: "须指向验收表中排在前面的项目"
    }
    CannotDecideVisibility = "cannot_decide_visibility" {
        en: "photo and computed items cannot decide visibility",
        zh: "照片和计算项目不能决定其他项目是否显示"
    }
    NumberWithinItem = "number_within_item" {
        en: "must be a number within the item's min and max",
        zh: "须为此项目 min 与 max 之间的数字"
    }
    OptionIdOfItem = "option_id_of_item" {
        en: "must be one of the item's option ids",
        zh: "须为此项目的选项编号之一"
    }
    // Photo uploads (PUT and tus).
    Base64Utf8 = "base64_utf8" {
        en: "must be base64 of UTF-8 text",
        zh: "须为 UTF-8 文本的 Base64 编码"
    }
    InspectionIdOf = "inspection_id_of" {
        en: "must be the inspection's id",
        zh: "须为验收的编号"
    }
    PhotoIdOf = "photo_id_of" {
        en: "must be the photo's id from the manifest",
        zh: "须为照片清单中的照片编号"
    }
    PhotoSha256 = "photo_sha256" {
        en: "must be the photo's SHA-256 in 64 hex digits",
        zh: "须为照片的 SHA-256 校验值（64 位十六进制数字）"
    }
    DownsizedFrom = "downsized_from" {
        en: "must be the original's size as WIDTHxHEIGHT in pixels, e.g. 4032x3024",
        zh: "须为原图尺寸，格式为“宽x高”（像素），如 4032x3024"
    }
    ChecksumHeader = "checksum_header" {
        en: "must be `sha256 <base64 digest>`",
        zh: "格式须为“sha256 <Base64 摘要>”"
    }
    ChecksumAlgorithm = "checksum_algorithm" {
        en: "the only checksum algorithm is sha256",
        zh: "校验算法只支持 sha256"
    }
    ChecksumDigest = "checksum_digest" {
        en: "the digest must be 32 bytes in base64",
        zh: "摘要须为 32 字节的 Base64 编码"
    }
    DeferLength = "defer_length" {
        en: "is not supported: send Upload-Length",
        zh: "不支持，请发送 Upload-Length"
    }
    ManifestMismatch = "manifest_mismatch" {
        en: "does not match the manifest",
        zh: "与照片清单中的不符"
    }
    BytesMismatch = "bytes_mismatch" {
        en: "does not match the bytes",
        zh: "与收到的字节不符"
    }
    // Org unit imports.
    ImportHeaderUnreadable = "import_header_unreadable" {
        en: "cannot read the header: {why}",
        zh: "无法读取表头：{why}"
    }
    ImportHeader = "import_header" {
        en: "line 1: the header must be {header}",
        zh: "第 1 行：表头须为 {header}"
    }
    ImportFileUnreadable = "import_file_unreadable" {
        en: "cannot read the file: {why}",
        zh: "无法读取文件：{why}"
    }
    ImportNoRows = "import_no_rows" {
        en: "line 2: the file has no rows",
        zh: "第 2 行：文件中没有数据行"
    }
    NotUtf8 = "not_utf8" {
        en: "line {line}: not UTF-8 (a file saved by Excel or WPS on a Chinese Windows is GB18030: state --encoding gb18030, or leave the encoding out to detect it)",
        zh: "第 {line} 行：不是 UTF-8 编码（中文 Windows 上 Excel 或 WPS 保存的文件是 GB18030：请注明编码 gb18030，或不注明编码，由系统识别）"
    }
    NeitherEncoding = "neither_encoding" {
        en: "line {line}: neither UTF-8 nor GB18030; save the file as \"CSV UTF-8\"",
        zh: "第 {line} 行：既不是 UTF-8 也不是 GB18030 编码；请将文件另存为“CSV UTF-8”"
    }
    NotGb18030 = "not_gb18030" { en: "line {line}: not GB18030", zh: "第 {line} 行：不是 GB18030 编码" }
    EncodingName = "encoding_name" {
        en: "must be utf-8 or gb18030, got {got}",
        zh: "须为 utf-8 或 gb18030，收到的是 {got}"
    }
}

/// A word of the domain sent as a figure (a decision, a role, an org unit level, a status…),
/// in the glossary's Chinese.
pub fn word_zh(word: &str) -> Option<&'static str> {
    Some(match word {
        "approve" | "approved" => "通过",
        "reject" | "rejected" => "不通过",
        "return" | "returned" => "退回验收员",
        "send_back" => "退回",
        "forward" => "转县验收",
        "reopen" => "重新审核",
        "submitted" => "已提交",
        "cancelled" => "已取消",
        "draft" => "草稿",
        "decided" => "已审核",
        "open" => "进行中",
        "county" => "县",
        "township" => "乡镇",
        "village" => "村",
        "admin" => "管理员",
        "inspector" => "验收员",
        "reviewer" => "审核员",
        "secretary" => "村书记",
        "member" => "计生协会员",
        "department" => "县人口计生部门",
        "association" => "县计生协",
        "org unit" => "组织单位",
        "login" => "登录",
        "member of the mentee's village" => "该帮带对象所在村的会员",
        "township in your scope" => "乡镇",
        "declaration" => "申报",
        "published checklist version" => "已发布的验收表版本",
        "inspection" => "验收",
        "mentee" => "帮带对象",
        "user" => "用户",
        "photo" => "照片",
        "visit" => "走访",
        "webhook" => "推送订阅",
        "checklist" => "验收表",
        "benefit" => "优惠",
        "downgrade" => "降级",
        "revoke" => "取消星级",
        "households" => "户",
        "members" => "会员",
        "oldest" => "最早",
        "flags" => "疑点",
        "thumb" => "缩略图",
        "display" => "显示图",
        "original" => "原图",
        "true" => "是",
        "false" => "否",
        _ => return None,
    })
}

/// One problem code: its title in each language and, for Chinese, the detail shown when the
/// English detail has no rule of its own.
pub struct CodeText {
    pub code: &'static str,
    pub zh_title: &'static str,
    pub zh_detail: &'static str,
}

macro_rules! codes {
    ($( $code:literal => $title:literal, $detail:literal; )*) => {
        /// Every problem code the API answers with.
        pub const CODES: &[CodeText] = &[
            $( CodeText { code: $code, zh_title: $title, zh_detail: $detail }, )*
        ];
    };
}

codes! {
    "validation_failed" => "请求有误", "请求中有字段无效";
    "unauthorized" => "未登录", "需要有效的登录凭证，请重新登录";
    "forbidden" => "无权操作", "您的角色或管辖范围不允许此操作";
    "not_found" => "未找到", "所请求的内容不存在或不在您的管辖范围内";
    "payload_too_large" => "内容过大", "请求内容超过上限";
    "unsupported_media_type" => "内容类型不受支持", "请求内容的类型不受支持";
    "too_many_requests" => "请求过于频繁", "失败次数过多，请稍后再试";
    "too_many_connections" => "连接过多", "此地址与服务器的连接过多，请关闭部分连接后重试";
    "unavailable" => "服务暂不可用", "服务暂时不可用，请稍后重试";
    "internal" => "服务器错误", "服务器无法完成此请求";
    "method_not_allowed" => "请求方法不允许", "此路径不接受该请求方法";
    "bad_path" => "路径有误", "请求路径中的参数无效";
    "body_timeout" => "请求超时", "请求内容传输过慢，请重试";
    "body_unreadable" => "请求内容无法读取", "请求内容无法读取，请重试";
    "malformed_json" => "JSON 格式错误", "请求体不是有效的 JSON";
    "already_decided" => "已审核", "此验收已有审核决定，决定不可更改";
    "already_published" => "已发布", "此版本已发布，不可更改";
    "approval.body_done" => "本单位已通过", "本核验单位已通过此验收";
    "bulk.not_eligible" => "不可批量通过", "只有无疑点且验收表达标的复核可以批量通过";
    "catalogue_changed" => "优惠目录已变更", "优惠目录已被他人保存，请重新加载后再保存";
    "checklist_code_taken" => "验收表代码已被占用", "此验收表代码属于其他单位，请换一个代码";
    "checklist_version_race" => "版本冲突", "同时新增了另一个版本，请重试";
    "claim_required" => "请先领取", "审核前请先领取此验收（领取可能已过期）";
    "claimed" => "已被领取", "另一位审核员正在处理此验收";
    "code_taken" => "代码已被占用", "此代码的组织单位已存在";
    "decision.alerts_unacknowledged" => "严重疑点未确认", "通过有严重疑点的验收，须逐一确认并说明理由";
    "decision.checklist_failed" => "验收表未达标", "验收表未达标，不能通过";
    "declaration.banned" => "禁止申报", "该村在禁止申报期内，只能复核已有星级，不能升级申报";
    "declaration.quarter_used" => "本季度已申报", "星级每季度只能升一级：本季度已有升级申报";
    "declaration.invalid_level" => "星级无效", "星级须为 1、2 或 3";
    "declaration.step_too_large" => "一次只能升一级", "星级须逐级申报，一次只能升一级";
    "declaration.below_current" => "低于现有星级", "该村已有更高星级，请申报现有星级以复核";
    "approval.already_given" => "已批准", "您已批准此验收，另一项批准须由其他审核员作出";
    "declaration.awaiting_township" => "等待乡镇初审", "此申报等待乡镇初审，转县后再验收";
    "declaration.not_awaiting_township" => "不在乡镇初审中", "只有等待乡镇初审的申报可以转县或退回";
    "declaration_closed" => "申报已关闭", "此申报所在季度的验收期已结束或已被退回";
    "declaration_decided" => "申报已审核", "此申报已有审核决定";
    "declaration_inspected" => "申报已验收", "此申报已有验收";
    "declaration_open" => "已有申报", "该村本季度已有未完成的申报";
    "import_refused" => "导入被拒绝", "有行被拒绝，未导入任何内容";
    "import_unreadable" => "文件无法读取", "导入文件无法读取";
    "inspection.not_cancellable" => "不能取消", "此验收不能取消";
    "inspection.outside_window" => "不在验收期内", "不在本季度的验收期内";
    "inspection_closed" => "验收已关闭", "此验收已不接受更改";
    "inspection_conflict" => "验收冲突", "此验收已被其他请求更改，请重试";
    "member_has_mentees" => "会员仍有帮带对象", "请先把其帮带对象转给其他会员";
    "member_inactive" => "会员已停用", "此会员已停用，不能帮带";
    "mentee_code_taken" => "编号已被占用", "此编号已被本村的另一位帮带对象使用";
    "mentee_limit" => "帮带人数已满", "此会员帮带的人数已达本县上限";
    "not_reviewable" => "不可审核", "此验收当前不可审核";
    "photo_conflict" => "照片冲突", "此照片编号已对应其他内容";
    "photo_empty" => "照片为空", "照片内容为空";
    "photo_timeout" => "照片处理超时", "照片解码时间过长";
    "photo_too_large" => "照片过大", "照片超过大小上限";
    "photo_undecodable" => "照片无法解码", "照片无法解码，请使用 JPEG、PNG 或 WebP";
    "policy_changed" => "政策已变更", "本县政策同时被修改，请重试";
    "reopen.not_decided" => "未审核", "只有已通过或不通过的验收可以重新审核";
    "reopen.superseded" => "已有后续决定", "该村有更晚的审核决定，请先重新审核那一项";
    "reopen.too_late" => "超过期限", "审核决定超过可重新审核的期限";
    "report_too_large" => "报表过大", "报表行数过多，请下载 CSV";
    "reviewer.no_body" => "未设核验单位", "审核员须属于县人口计生部门或县计生协，请管理员设置";
    "sha256_mismatch" => "校验不符", "照片内容与清单中的校验值不符";
    "upload_quota" => "上传过多", "同时上传的照片过多或超过上传配额，请稍后再试";
    "username_taken" => "用户名已被占用", "此用户名已被占用";
    "village_has_history" => "村有历史记录", "此村已有申报或验收记录，不能删除";
    "visit_conflict" => "走访冲突", "此走访编号已对应其他内容";
    "visit_race" => "走访正在记录", "此走访正由另一个请求记录，请稍后再试";
    "lost_race" => "正在写入", "另一个请求正在写入同一记录，请重试";
    "retry" => "请重试", "同一验收的并发请求过多，请重试";
    "upload_offset" => "续传位置不符", "上传位置与服务器已收到的字节数不符，请先查询已收到的位置再续传";
    "bad_checksum" => "校验值格式有误", "Upload-Checksum 应为 sha256 加 Base64 编码的摘要";
    "bad_header" => "请求头有误", "续传请求的请求头缺失或无效";
    "tus_version" => "续传协议版本不支持", "服务器只支持 tus 1.0.0 续传协议";
    "upload_busy" => "上传进行中", "此照片的另一次续传正在写入，请稍后再试";
    "checksum_mismatch" => "校验不符", "收到的字节与声明的 SHA-256 校验值不符，此段已丢弃，请重新发送";
    "window_changed" => "验收期已变更", "验收期同时被修改，请重试";
}

/// The Chinese title and generic detail of a problem code.
pub fn code_text(code: &str) -> Option<&'static CodeText> {
    CODES.iter().find(|c| c.code == code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn is_han(c: char) -> bool {
        ('\u{4e00}'..='\u{9fff}').contains(&c)
    }

    fn placeholders(t: &str) -> BTreeSet<&str> {
        t.split('{')
            .skip(1)
            .filter_map(|s| s.split_once('}').map(|(name, _)| name))
            .collect()
    }

    #[test]
    fn every_rule_has_english_and_chinese_text_with_the_same_figures() {
        let mut seen = BTreeSet::new();
        for rule in Rule::ALL {
            assert!(seen.insert(rule.code()), "{} twice", rule.code());
            let (en, zh) = (rule.template(Lang::En), rule.template(Lang::Zh));
            assert!(!en.trim().is_empty(), "{} has no English", rule.code());
            assert!(
                zh.chars().any(is_han),
                "{} has no Chinese: {zh}",
                rule.code()
            );
            let (pe, pz) = (placeholders(en), placeholders(zh));
            // A Chinese text may leave out a technical figure (the parser's reason), never add one.
            assert!(pz.is_subset(&pe), "{}: {pe:?} vs {pz:?}", rule.code());
            let serialized = serde_json::to_value(rule).unwrap();
            assert_eq!(serialized, rule.code());
        }
    }

    #[test]
    fn every_problem_code_has_a_chinese_title_and_detail() {
        let mut seen = BTreeSet::new();
        for c in CODES {
            assert!(seen.insert(c.code), "{} twice", c.code);
            assert!(c.zh_title.chars().any(is_han), "{}", c.code);
            assert!(c.zh_detail.chars().any(is_han), "{}", c.code);
        }
    }

    /// Every code a handler answers with (a literal given to `ApiError::conflict`,
    /// `unprocessable`, `bad_request` or `new`, outside tests) is in the catalogue.
    #[test]
    fn every_code_in_the_source_is_in_the_catalogue() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("server/src");
        let mut missing = Vec::new();
        let mut files = vec![root];
        while let Some(path) = files.pop() {
            if path.is_dir() {
                for e in std::fs::read_dir(&path).unwrap() {
                    files.push(e.unwrap().path());
                }
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let text = text.split("#[cfg(test)]").next().unwrap_or("");
            // A refusal's `fn code(…) -> &'static str`: each arm's literal.
            for (at, _) in text.match_indices("fn code(") {
                let body = &text[at..];
                let body = &body[..body.find("\n    }\n").unwrap_or(body.len())];
                for (arm, _) in body.match_indices("=> \"") {
                    let code = body[arm + 4..].split('"').next().unwrap_or("");
                    if code_text(code).is_none() {
                        missing.push(format!("{code} ({})", path.display()));
                    }
                }
            }
            for ctor in [
                "conflict(",
                "unprocessable(",
                "bad_request(",
                "ApiError::new(",
            ] {
                for (at, _) in text.match_indices(ctor) {
                    let rest = &text[at + ctor.len()..];
                    let rest = rest.trim_start();
                    let rest = match rest.strip_prefix("StatusCode::") {
                        Some(r) => r.split_once(',').map_or("", |(_, r)| r.trim_start()),
                        None => match rest.strip_prefix("actix_web::http::StatusCode::") {
                            Some(r) => r.split_once(',').map_or("", |(_, r)| r.trim_start()),
                            None => rest,
                        },
                    };
                    if let Some(lit) = rest.strip_prefix('"') {
                        let code = lit.split('"').next().unwrap_or("");
                        if code_text(code).is_none() {
                            missing.push(format!("{code} ({})", path.display()));
                        }
                    }
                }
            }
        }
        assert!(
            missing.is_empty(),
            "codes without Chinese text: {missing:?}"
        );
    }
}
