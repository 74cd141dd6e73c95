//! Messages in provider-neutral terms, and their Cloud API JSON (built here, nowhere else).

use serde_json::{json, Value};

use crate::phone::ZwMobile;

/// Longest text body the API takes.
pub const MAX_TEXT_CHARS: usize = 4096;
/// Most reply buttons in one interactive message.
pub const MAX_BUTTONS: usize = 3;
/// Most rows across all sections of a list message.
pub const MAX_LIST_ROWS: usize = 10;

/// One WhatsApp message to one user.
#[derive(Debug, Clone, PartialEq)]
pub struct WaMessage {
    /// The user's number in international form, digits only (`263771234567`); a leading `+`
    /// is dropped.
    pub to: String,
    /// The hub's id of this attempt; echoed back in status webhooks as `biz_opaque_callback_data`.
    pub reference: String,
    /// What to send.
    pub body: WaBody,
}

impl WaMessage {
    /// A message to a Zimbabwean mobile.
    pub fn to_mobile(to: &ZwMobile, reference: impl Into<String>, body: WaBody) -> Self {
        Self {
            to: to.e164().trim_start_matches('+').to_owned(),
            reference: reference.into(),
            body,
        }
    }
}

/// Where media comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaSource {
    /// A public HTTPS URL WhatsApp fetches.
    Link(String),
    /// An id from [`super::WhatsApp::upload_media`].
    Id(String),
}

/// Media message types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    /// JPEG or PNG.
    Image,
    /// PDF and other files; may carry a file name.
    Document,
    /// MP4.
    Video,
    /// Audio (no caption).
    Audio,
}

impl MediaKind {
    fn wire(self) -> &'static str {
        match self {
            MediaKind::Image => "image",
            MediaKind::Document => "document",
            MediaKind::Video => "video",
            MediaKind::Audio => "audio",
        }
    }
}

/// A template parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateParam {
    /// Text for a `{{n}}` placeholder.
    Text(String),
    /// A header image.
    Image(MediaSource),
    /// A header document.
    Document(MediaSource),
    /// A header video.
    Video(MediaSource),
    /// A quick-reply button's payload.
    Payload(String),
}

/// One component of a template send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateComponent {
    /// Header parameters.
    Header(Vec<TemplateParam>),
    /// Body parameters, in placeholder order.
    Body(Vec<TemplateParam>),
    /// Parameters of button number `index` (`sub_type` `quick_reply` or `url`).
    Button {
        /// `quick_reply` or `url`.
        sub_type: String,
        /// Position of the button in the template, from 0.
        index: u8,
        /// Its parameters.
        params: Vec<TemplateParam>,
    },
}

/// A reply button.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyButton {
    /// Returned in the user's reply.
    pub id: String,
    /// Shown on the button.
    pub title: String,
}

/// A list row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListRow {
    /// Returned in the user's reply.
    pub id: String,
    /// Row title.
    pub title: String,
    /// Optional second line.
    pub description: Option<String>,
}

/// A titled group of rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListSection {
    /// Section title.
    pub title: String,
    /// Its rows.
    pub rows: Vec<ListRow>,
}

/// What a message says.
#[derive(Debug, Clone, PartialEq)]
pub enum WaBody {
    /// An approved template; the only kind allowed outside the 24-hour window.
    Template {
        /// Template name.
        name: String,
        /// Language code as approved (`en`, `en_US`, `sn`…).
        language: String,
        /// Parameters.
        components: Vec<TemplateComponent>,
    },
    /// Plain text.
    Text {
        /// Up to 4096 characters.
        body: String,
        /// Let WhatsApp render a preview of the first URL.
        preview_url: bool,
    },
    /// An image, document, video or audio message.
    Media {
        /// Which type.
        kind: MediaKind,
        /// Link or uploaded id.
        source: MediaSource,
        /// Caption (not for audio).
        caption: Option<String>,
        /// File name shown for documents.
        filename: Option<String>,
    },
    /// Up to three reply buttons.
    Buttons {
        /// Main text.
        body: String,
        /// Optional footer.
        footer: Option<String>,
        /// One to three buttons.
        buttons: Vec<ReplyButton>,
    },
    /// A list behind a button.
    List {
        /// Main text.
        body: String,
        /// Optional footer.
        footer: Option<String>,
        /// Label of the button that opens the list.
        button: String,
        /// Sections with at most ten rows in all.
        sections: Vec<ListSection>,
    },
}

impl WaBody {
    /// True for everything but templates: such messages need an open window.
    pub fn is_free_form(&self) -> bool {
        !matches!(self, WaBody::Template { .. })
    }
}

fn media_object(source: &MediaSource) -> serde_json::Map<String, Value> {
    let mut object = serde_json::Map::new();
    match source {
        MediaSource::Link(link) => object.insert("link".into(), link.clone().into()),
        MediaSource::Id(id) => object.insert("id".into(), id.clone().into()),
    };
    object
}

fn param(p: &TemplateParam) -> Value {
    match p {
        TemplateParam::Text(text) => json!({"type": "text", "text": text}),
        TemplateParam::Image(s) => json!({"type": "image", "image": media_object(s)}),
        TemplateParam::Document(s) => json!({"type": "document", "document": media_object(s)}),
        TemplateParam::Video(s) => json!({"type": "video", "video": media_object(s)}),
        TemplateParam::Payload(p) => json!({"type": "payload", "payload": p}),
    }
}

/// Checks the limits the API enforces, so obviously bad messages fail without a round trip.
pub(crate) fn validate(body: &WaBody) -> Result<(), String> {
    match body {
        WaBody::Text { body, .. } if body.is_empty() => Err("empty text".into()),
        WaBody::Text { body, .. } if body.chars().count() > MAX_TEXT_CHARS => {
            Err(format!("text longer than {MAX_TEXT_CHARS} characters"))
        }
        WaBody::Buttons { buttons, .. } if buttons.is_empty() || buttons.len() > MAX_BUTTONS => {
            Err(format!("1 to {MAX_BUTTONS} buttons allowed"))
        }
        WaBody::List { sections, .. }
            if sections.iter().map(|s| s.rows.len()).sum::<usize>() > MAX_LIST_ROWS =>
        {
            Err(format!("at most {MAX_LIST_ROWS} list rows allowed"))
        }
        WaBody::Template { name, .. } if name.is_empty() => Err("template without a name".into()),
        _ => Ok(()),
    }
}

/// The JSON body of `POST /{phone-number-id}/messages`.
pub(crate) fn to_wire(message: &WaMessage) -> Value {
    let mut out = json!({
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": message.to.trim_start_matches('+'),
        "biz_opaque_callback_data": message.reference,
    });
    let footer = |f: &Option<String>| f.as_ref().map(|text| json!({"text": text}));
    let (kind, payload) = match &message.body {
        WaBody::Template {
            name,
            language,
            components,
        } => {
            let components: Vec<Value> = components
                .iter()
                .map(|c| match c {
                    TemplateComponent::Header(ps) => {
                        json!({"type": "header", "parameters": ps.iter().map(param).collect::<Vec<_>>()})
                    }
                    TemplateComponent::Body(ps) => {
                        json!({"type": "body", "parameters": ps.iter().map(param).collect::<Vec<_>>()})
                    }
                    TemplateComponent::Button {
                        sub_type,
                        index,
                        params,
                    } => json!({
                        "type": "button",
                        "sub_type": sub_type,
                        "index": index.to_string(),
                        "parameters": params.iter().map(param).collect::<Vec<_>>(),
                    }),
                })
                .collect();
            (
                "template",
                json!({"name": name, "language": {"code": language}, "components": components}),
            )
        }
        WaBody::Text { body, preview_url } => {
            ("text", json!({"preview_url": preview_url, "body": body}))
        }
        WaBody::Media {
            kind,
            source,
            caption,
            filename,
        } => {
            let mut object = media_object(source);
            if let Some(caption) = caption.as_ref().filter(|_| *kind != MediaKind::Audio) {
                object.insert("caption".into(), caption.clone().into());
            }
            if let Some(filename) = filename.as_ref().filter(|_| *kind == MediaKind::Document) {
                object.insert("filename".into(), filename.clone().into());
            }
            (kind.wire(), Value::Object(object))
        }
        WaBody::Buttons {
            body,
            footer: f,
            buttons,
        } => {
            let mut interactive = json!({
                "type": "button",
                "body": {"text": body},
                "action": {"buttons": buttons.iter().map(|b| json!({
                    "type": "reply", "reply": {"id": b.id, "title": b.title}
                })).collect::<Vec<_>>()},
            });
            if let Some(f) = footer(f) {
                interactive["footer"] = f;
            }
            ("interactive", interactive)
        }
        WaBody::List {
            body,
            footer: f,
            button,
            sections,
        } => {
            let sections: Vec<Value> = sections
                .iter()
                .map(|s| {
                    json!({"title": s.title, "rows": s.rows.iter().map(|r| {
                        let mut row = json!({"id": r.id, "title": r.title});
                        if let Some(d) = &r.description { row["description"] = d.clone().into(); }
                        row
                    }).collect::<Vec<_>>()})
                })
                .collect();
            let mut interactive = json!({
                "type": "list",
                "body": {"text": body},
                "action": {"button": button, "sections": sections},
            });
            if let Some(f) = footer(f) {
                interactive["footer"] = f;
            }
            ("interactive", interactive)
        }
    };
    out["type"] = kind.into();
    out[kind] = payload;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_template_is_written_as_the_cloud_api_expects() {
        let message = WaMessage {
            to: "+263771234567".into(),
            reference: "att-1".into(),
            body: WaBody::Template {
                name: "fees_due".into(),
                language: "sn".into(),
                components: vec![
                    TemplateComponent::Header(vec![TemplateParam::Document(MediaSource::Id(
                        "555".into(),
                    ))]),
                    TemplateComponent::Body(vec![TemplateParam::Text("Chipo".into())]),
                    TemplateComponent::Button {
                        sub_type: "url".into(),
                        index: 0,
                        params: vec![TemplateParam::Text("inv-9".into())],
                    },
                ],
            },
        };
        let wire = to_wire(&message);
        assert_eq!(wire["to"], "263771234567");
        assert_eq!(wire["type"], "template");
        assert_eq!(wire["template"]["language"]["code"], "sn");
        assert_eq!(
            wire["template"]["components"][0]["parameters"][0]["document"]["id"],
            "555"
        );
        assert_eq!(wire["template"]["components"][2]["index"], "0");
        assert_eq!(wire["biz_opaque_callback_data"], "att-1");
    }

    #[test]
    fn media_and_interactive_bodies_follow_their_shapes_and_limits() {
        let doc = WaBody::Media {
            kind: MediaKind::Document,
            source: MediaSource::Link("https://s.example/r.pdf".into()),
            caption: Some("Report".into()),
            filename: Some("report.pdf".into()),
        };
        let wire = to_wire(&WaMessage {
            to: "263771234567".into(),
            reference: "r".into(),
            body: doc,
        });
        assert_eq!(wire["document"]["link"], "https://s.example/r.pdf");
        assert_eq!(wire["document"]["filename"], "report.pdf");
        let four = WaBody::Buttons {
            body: "?".into(),
            footer: None,
            buttons: (0..4)
                .map(|i| ReplyButton {
                    id: i.to_string(),
                    title: "x".into(),
                })
                .collect(),
        };
        assert!(validate(&four).is_err());
        assert!(validate(&WaBody::Text {
            body: "a".repeat(4097),
            preview_url: false
        })
        .is_err());
    }
}
