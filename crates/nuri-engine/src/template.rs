//! Chat templates: the Jinja template a GGUF file carries in `tokenizer.chat_template`, rendered
//! with minijinja the way Hugging Face's `apply_chat_template` does (`trim_blocks`,
//! `lstrip_blocks`, Python string methods, `raise_exception`, `add_generation_prompt = true`).
//! A file without a template gets ChatML.

use minijinja::{context, Environment, Error, ErrorKind};

use crate::error::EngineError;
use crate::request::ChatTurn;

/// ChatML, used when the model file carries no template.
pub const CHATML_TEMPLATE: &str = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

const NAME: &str = "chat";

/// A compiled chat template plus the special-token strings it may refer to.
pub(crate) struct ChatTemplate {
    env: Environment<'static>,
    bos_token: String,
    eos_token: String,
}

impl ChatTemplate {
    /// Compiles `source` (or ChatML when absent).
    pub fn new(
        source: Option<&str>,
        bos_token: &str,
        eos_token: &str,
    ) -> Result<Self, EngineError> {
        let mut env = Environment::new();
        env.set_syntax(
            minijinja::syntax::SyntaxConfig::builder()
                .trim_blocks(true)
                .lstrip_blocks(true)
                .build()
                .map_err(|e| EngineError::Template(e.to_string()))?,
        );
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function("raise_exception", |msg: String| -> Result<String, Error> {
            Err(Error::new(ErrorKind::InvalidOperation, msg))
        });
        let source = source.unwrap_or(CHATML_TEMPLATE).to_string();
        env.add_template_owned(NAME, source).map_err(|e| {
            EngineError::Template(format!("cannot compile the model's template: {e}"))
        })?;
        Ok(Self {
            env,
            bos_token: bos_token.to_string(),
            eos_token: eos_token.to_string(),
        })
    }

    /// Renders the conversation with the assistant's generation prompt appended.
    pub fn render(&self, turns: &[ChatTurn]) -> Result<String, EngineError> {
        let messages: Vec<_> = turns
            .iter()
            .map(|t| context! { role => t.role.as_str(), content => t.content.as_str() })
            .collect();
        let template = self
            .env
            .get_template(NAME)
            .map_err(|e| EngineError::Template(e.to_string()))?;
        template
            .render(context! {
                messages => messages,
                add_generation_prompt => true,
                bos_token => self.bos_token.as_str(),
                eos_token => self.eos_token.as_str(),
            })
            .map_err(|e| EngineError::Template(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chatml_default() -> Result<(), EngineError> {
        let t = ChatTemplate::new(None, "", "")?;
        let out = t.render(&[ChatTurn::new("user", "Hi")])?;
        assert_eq!(
            out,
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
        );
        Ok(())
    }

    #[test]
    fn gemma_style_template_with_python_methods() -> Result<(), EngineError> {
        let src = "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'assistant' %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}";
        let t = ChatTemplate::new(Some(src), "<bos>", "<eos>")?;
        let out = t.render(&[ChatTurn::new("user", " Hi ")])?;
        assert_eq!(
            out,
            "<bos><start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n"
        );
        let src2 = "{% for m in messages %}{{ m['content'].strip().upper() }}{% endfor %}";
        let t2 = ChatTemplate::new(Some(src2), "", "")?;
        assert_eq!(t2.render(&[ChatTurn::new("user", " ab ")])?, "AB");
        Ok(())
    }

    #[test]
    fn raise_exception_is_an_error() -> Result<(), EngineError> {
        let t = ChatTemplate::new(Some("{{ raise_exception('no system role') }}"), "", "")?;
        assert!(
            matches!(t.render(&[]), Err(EngineError::Template(m)) if m.contains("no system role"))
        );
        Ok(())
    }
}
