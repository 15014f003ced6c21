//! The labelled evaluation set: seeded, deterministic chat-like documents in Korean, English
//! and both, with gold spans for every identifier and the positions of hard negatives.

use nuri_pii::Label;

use crate::rng::Rng;
use crate::values as v;

/// A gold span (byte offsets into [`Doc::text`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gold {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
    /// Expected label.
    pub label: Label,
}

/// A hard negative's position and kind (`order`, `version`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negative {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
    /// What it is.
    pub kind: &'static str,
}

/// One generated document.
#[derive(Debug, Clone, Default)]
pub struct Doc {
    /// The text.
    pub text: String,
    /// Every identifier in it.
    pub gold: Vec<Gold>,
    /// Every hard negative in it.
    pub negatives: Vec<Negative>,
}

impl Doc {
    fn put(&mut self, s: impl AsRef<str>) {
        self.text.push_str(s.as_ref());
    }

    fn pii(&mut self, label: Label, value: &str) {
        let start = self.text.len();
        self.text.push_str(value);
        self.gold.push(Gold {
            start,
            end: self.text.len(),
            label,
        });
    }

    fn neg(&mut self, kind: &'static str, value: &str) {
        let start = self.text.len();
        self.text.push_str(value);
        self.negatives.push(Negative {
            start,
            end: self.text.len(),
            kind,
        });
    }
}

const KO_FILLER: &[&str] = &[
    "안녕하세요, 문의드립니다.",
    "확인 부탁드려요!",
    "오늘 회의는 3시에 시작합니다.",
    "감사합니다 :)",
    "배송이 아직 안 왔어요 ㅠㅠ",
    "내일 다시 연락드릴게요.",
    "자료 첨부했습니다. 검토 부탁드립니다.",
    "네 알겠습니다~",
    "요청하신 내용 정리해서 보내드려요.",
    "점심 같이 드실래요?",
];
const EN_FILLER: &[&str] = &[
    "Hi there, quick question.",
    "Thanks for the help!",
    "The meeting moved to 3pm.",
    "Please see the attached file.",
    "Let me know if anything else is needed.",
    "Sounds good to me.",
    "I'll follow up tomorrow.",
    "Can you check this again?",
];
const PARTICLES: &[&str] = &[
    "으로",
    "로",
    "에",
    "으로요",
    "이요",
    "입니다",
    "이에요",
    "",
    "",
    " ",
    "로 ",
    "에게",
    "님",
    "이",
    "가",
    "을",
    "를",
    "은",
    "는",
    "의",
    "와",
    "과",
    "도",
];
const END: &[&str] = &[
    ".",
    "",
    "!",
    " ",
    "?",
    ")",
    "'",
    ".\n",
    ",",
    " 입니다.",
    " 이에요.",
    "요.",
];

/// Generates `n` documents from `seed`.
pub fn generate(seed: u64, n: usize) -> Vec<Doc> {
    let mut r = Rng::new(seed);
    (0..n).map(|_| document(&mut r)).collect()
}

/// One document of 1-6 sentences.
pub fn document(r: &mut Rng) -> Doc {
    let mut d = Doc::default();
    let sentences = 1 + r.below(6);
    for k in 0..sentences {
        if k > 0 {
            d.put(r.pick(&[" ", " ", "\n", "\n\n", "  "]));
        }
        let x = r.below(100);
        if x < 55 {
            let label = *r.pick(&Label::ALL);
            pii_sentence(r, &mut d, label);
        } else if x < 85 {
            negative_sentence(r, &mut d);
        } else {
            let f = if r.chance(0.5) { KO_FILLER } else { EN_FILLER };
            d.put(r.pick(f));
        }
    }
    d
}

fn end(r: &mut Rng, d: &mut Doc) {
    d.put(r.pick(END));
}

/// A sentence that carries one identifier of `label`.
fn pii_sentence(r: &mut Rng, d: &mut Doc, label: Label) {
    let en = r.chance(0.35);
    match label {
        Label::KrRrn | Label::KrFrn => {
            let digits = if label == Label::KrRrn {
                v::rrn_digits(r)
            } else {
                v::frn_digits(r)
            };
            let mut s = match r.below(11) {
                10 => v::grouped(&digits, &[6, 7], "–"),
                0 => v::grouped(&digits, &[6, 7], " "),
                1 | 2 => v::ascii(&digits),
                _ => v::grouped(&digits, &[6, 7], "-"),
            };
            if r.chance(0.05) {
                s = v::full_width(&s);
            }
            let pre = if label == Label::KrRrn {
                r.pick(&[
                    "주민번호 ",
                    "주민등록번호: ",
                    "RRN ",
                    "본인 확인용 ",
                    "주민번호는 ",
                    "(",
                    "",
                ])
            } else {
                r.pick(&[
                    "외국인등록번호 ",
                    "ARC no. ",
                    "외국인번호: ",
                    "등록번호 ",
                    "",
                ])
            };
            d.put(pre);
            d.pii(label, &s);
            d.put(r.pick(PARTICLES));
            end(r, d);
        }
        Label::KrBrn => {
            let digits = v::brn_digits(r);
            if r.chance(0.75) {
                d.put(r.pick(&[
                    "사업자등록번호 ",
                    "사업자번호: ",
                    "Business reg. no ",
                    "거래처 ",
                    "(",
                    "",
                ]));
                d.pii(label, &v::grouped(&digits, &[3, 2, 5], "-"));
            } else {
                d.put(r.pick(&[
                    "사업자등록번호 ",
                    "사업자번호 : ",
                    "business registration number ",
                ]));
                d.pii(label, &v::ascii(&digits));
            }
            d.put(r.pick(PARTICLES));
            end(r, d);
        }
        Label::KrCrn => {
            let digits = v::crn_digits(r);
            d.put(r.pick(&[
                "법인등록번호 ",
                "법인번호: ",
                "corporate registration no. ",
                "법인 등록번호 ",
            ]));
            let s = if r.chance(0.8) {
                v::grouped(&digits, &[6, 7], "-")
            } else {
                v::ascii(&digits)
            };
            d.pii(label, &s);
            end(r, d);
        }
        Label::KrPassport => {
            let p = v::passport(r);
            let pre = if en {
                r.pick(&["Passport No. ", "passport: ", "my passport number is "])
            } else {
                r.pick(&["여권번호 ", "여권 번호는 ", "여권: ", "여권번호("])
            };
            d.put(pre);
            d.pii(label, &p);
            d.put(r.pick(PARTICLES));
            end(r, d);
        }
        Label::KrDriverLicense => {
            d.put(r.pick(&[
                "운전면허번호 ",
                "면허번호: ",
                "driver's license ",
                "면허증 번호 ",
                "",
                "신분증(운전면허) ",
            ]));
            d.pii(label, &v::license(r));
            d.put(r.pick(PARTICLES));
            end(r, d);
        }
        Label::Phone => {
            let pre = if en {
                r.pick(&[
                    "Call me at ",
                    "phone: ",
                    "my number is ",
                    "Tel. ",
                    "reach me on ",
                    "",
                ])
            } else {
                r.pick(&[
                    "연락처 ",
                    "전화번호: ",
                    "제 번호는 ",
                    "핸드폰 ",
                    "HP: ",
                    "",
                    "급하면 ",
                ])
            };
            d.put(pre);
            let mut p = v::phone(r);
            if r.chance(0.04) {
                p = v::full_width(&p);
            }
            let brackets: &[(&str, &str)] = &[
                ("", ""),
                ("", ""),
                ("(", ")"),
                ("[", "]"),
                ("\"", "\""),
                ("'", "'"),
            ];
            let (open, close) = *r.pick(brackets);
            d.put(open);
            d.pii(label, &p);
            d.put(close);
            d.put(r.pick(PARTICLES));
            end(r, d);
        }
        Label::Email => {
            let pre = if en {
                r.pick(&["Email me at ", "contact: ", "<", "send it to ", ""])
            } else {
                r.pick(&[
                    "메일 ",
                    "이메일: ",
                    "",
                    "회신은 ",
                    "메일주소 ",
                    "mailto:",
                    "(이메일) ",
                ])
            };
            d.put(pre);
            d.pii(label, &v::email(r));
            d.put(r.pick(PARTICLES));
            end(r, d);
        }
        Label::Card => {
            d.put(r.pick(&[
                "카드번호 ",
                "결제 카드: ",
                "card number ",
                "",
                "신용카드 ",
                "Visa ",
                "카드번호:\n",
            ]));
            let mut c = v::card(r);
            if r.chance(0.04) {
                c = v::full_width(&c);
            }
            d.pii(label, &c);
            d.put(r.pick(PARTICLES));
            end(r, d);
        }
        Label::BankAccount => {
            let (bank, acct) = v::bank_account(r);
            match r.below(4) {
                0 => {
                    d.put(format!("{bank} "));
                    d.pii(label, &acct);
                    d.put(r.pick(&[
                        "으로 입금해 주세요",
                        " 예금주 본인 명의",
                        "로 보내주세요",
                        "",
                    ]));
                }
                1 => {
                    d.put("입금 계좌: ");
                    d.put(format!("{bank} "));
                    d.pii(label, &acct);
                }
                2 => {
                    d.put("계좌번호는 ");
                    d.pii(label, &acct);
                    d.put(format!(" ({bank})"));
                }
                _ => {
                    d.put(r.pick(&["Bank account: ", "계좌번호:\n", "입금하실 곳 - "]));
                    d.pii(label, &acct);
                }
            }
            end(r, d);
        }
        Label::KrHealthInsurance => {
            d.put(r.pick(&[
                "건강보험증 번호 ",
                "건강보험번호: ",
                "보험증번호 ",
                "health insurance no. ",
                "건강보험증번호\n",
                "건강보험 가입자 번호는 ",
            ]));
            d.pii(label, &v::health(r));
            end(r, d);
        }
        Label::Ip => {
            d.put(r.pick(&[
                "접속 IP ",
                "IP: ",
                "from ",
                "서버 주소 ",
                "client ",
                "",
                "로그인 기록 ",
            ]));
            let ip = v::ip(r);
            let bracket = ip.contains(':') && r.chance(0.3);
            if bracket {
                d.put("[");
            }
            d.pii(label, &ip);
            if bracket {
                d.put("]:443");
            } else if !ip.contains(':') && r.chance(0.2) {
                d.put(":8080");
            }
            end(r, d);
        }
        Label::KrAddress => {
            d.put(r.pick(&["주소: ", "배송지는 ", "", "우편 받을 곳 ", "Address: "]));
            d.pii(label, &v::address(r));
            d.put(r.pick(&["로 보내주세요", "입니다", "", " 입니다", "."]));
            end(r, d);
        }
        Label::Person => person_sentence(r, d, en),
    }
}

fn person_sentence(r: &mut Rng, d: &mut Doc, en: bool) {
    if en {
        let (full, first, last) = v::english_name(r);
        match r.below(5) {
            0 => {
                d.put(r.pick(&["Mr. ", "Ms. ", "Dr. ", "Mrs "]));
                d.pii(Label::Person, &last);
                d.put(" will join.");
            }
            1 => {
                d.put(r.pick(&["Mr. ", "Dr ", "Prof. "]));
                d.pii(Label::Person, &full);
                d.put(" called yesterday.");
            }
            2 => {
                d.put(r.pick(&["Hi, my name is ", "My name is "]));
                d.pii(Label::Person, &full);
                d.put(".");
            }
            3 => {
                d.put(r.pick(&["Name: ", "Full name: "]));
                d.pii(Label::Person, &full);
            }
            _ => {
                d.put("Dear ");
                d.pii(Label::Person, &first);
                d.put(",");
            }
        }
        return;
    }
    let name = v::korean_name(r);
    match r.below(6) {
        0 => {
            d.pii(Label::Person, &name);
            d.put(r.pick(&["님", "님,", "님께서", "님 ", "씨가", "씨,"]));
            d.put(r.pick(&[" 문의하셨어요.", " 안녕하세요", " 연락 바랍니다.", ""]));
        }
        1 => {
            d.put(r.pick(&["", "오늘 ", "어제 "]));
            d.pii(Label::Person, &name);
            d.put(r.pick(&[
                " 과장님",
                " 대리",
                " 팀장님께",
                " 고객님의",
                " 선생님",
                " 대표",
                " 씨",
            ]));
            d.put(r.pick(&["이 전화했어요.", " 요청입니다.", "", "."]));
        }
        2 => {
            d.put(r.pick(&["이름: ", "성명: ", "고객명 ", "담당자: ", "받는 분: "]));
            d.pii(Label::Person, &name);
        }
        3 => {
            d.put(r.pick(&["제 이름은 ", "성함은 "]));
            d.pii(Label::Person, &name);
            d.put(r.pick(&["입니다.", "이에요.", "예요"]));
        }
        4 => {
            d.put("담당 ");
            d.pii(Label::Person, &name);
            d.put(r.pick(&[" 매니저", " 실장님", " 부장"]));
        }
        _ => {
            d.pii(Label::Person, &name);
            d.put(r.pick(&["님께 전달 부탁드려요.", " 고객님 주문 건"]));
        }
    }
}

fn negative_sentence(r: &mut Rng, d: &mut Doc) {
    let (kind, value) = v::hard_negative(r);
    let (pre, post): (&str, &str) = match kind {
        "order" => *r.pick(&[
            ("주문번호 ", " 배송 조회"),
            ("order ", " shipped"),
            ("", " 확인"),
        ]),
        "date" => *r.pick(&[("", "에 만나요"), ("date: ", ""), ("회의 ", " 오후")]),
        "timestamp" => *r.pick(&[("at ", " UTC"), ("", " 로그"), ("ts=", "")]),
        "version" => *r.pick(&[("npm i ", ""), ("upgraded to ", " today"), ("", " 배포")]),
        "git" => *r.pick(&[("git clone ", ""), ("remote: ", "")]),
        "isbn" => ("", " 책"),
        "barcode" => *r.pick(&[("바코드 ", ""), ("EAN ", ""), ("상품 ", " 재고")]),
        "math" => *r.pick(&[("계산: ", ""), ("", " 맞나요?")]),
        "hotline" => *r.pick(&[
            ("고객센터 ", "로 전화"),
            ("call ", " for support"),
            ("대표번호 ", ""),
        ]),
        "private-ip" => *r.pick(&[("내부 서버 ", ""), ("gateway ", ""), ("", " 접속 안 됨")]),
        "honorific" => ("", " 안녕하세요"),
        _ => *r.pick(&[("", ""), ("참고: ", ""), ("see ", "")]),
    };
    d.put(pre);
    d.neg(kind, &value);
    d.put(post);
    end(r, d);
}
