//! Drawing a [`View`] with ratatui: a status header, the stages table, the
//! operators table and the labelled lines. The same drawing serves the
//! live terminal and `--once` (into ratatui's `TestBackend`, printed as
//! text).

use ratatui::backend::TestBackend;
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Row, Table};
use ratatui::{Frame, Terminal};

use super::model::{fmt_rate, View};
use crate::cli::format::fmt_count;

/// Rows the frame needs: header, two bordered tables with their header
/// rows, the bordered lines.
pub(super) fn height(v: &View) -> u16 {
    let rows = 2 + (v.stages.len() + 3) + (v.operators.len() + 3) + (v.lines.len() + 2);
    u16::try_from(rows).unwrap_or(u16::MAX)
}

/// Draws `v` over the whole frame.
pub(super) fn draw(f: &mut Frame<'_>, v: &View) {
    let [head, stages, operators, rest] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Length(v.stages.len() as u16 + 3),
        Constraint::Length(v.operators.len() as u16 + 3),
        Constraint::Min(3),
    ])
    .areas(f.area());
    let bold = Style::default().add_modifier(Modifier::BOLD);
    let title = Line::from(vec![
        Span::styled(format!("switchboard top — {}", v.addr), bold),
        Span::raw(if v.interval_s > 0.0 {
            format!("  (rates over {:.1} s; q quits)", v.interval_s)
        } else {
            "  (rates from the next reading; q quits)".to_string()
        }),
    ]);
    f.render_widget(
        Paragraph::new(vec![title, Line::from(v.status.clone())]),
        head,
    );
    let header = |cols: &[&'static str]| Row::new(cols.to_vec()).style(bold);
    let stage_rows = v.stages.iter().map(|s| {
        Row::new(vec![
            s.name.to_string(),
            fmt_rate(s.in_per_sec),
            fmt_rate(s.out_per_sec),
            fmt_count(s.in_total as u64),
            fmt_count(s.out_total as u64),
        ])
    });
    let widths = [
        Constraint::Length(14),
        Constraint::Length(12),
        Constraint::Length(12),
        Constraint::Length(14),
        Constraint::Length(14),
    ];
    f.render_widget(
        Table::new(stage_rows, widths)
            .header(header(&["stage", "in", "out", "in total", "out total"]))
            .block(Block::bordered().title("Stages (records)")),
        stages,
    );
    let op_rows = v.operators.iter().map(|o| {
        Row::new(vec![
            o.name.to_string(),
            fmt_rate(o.in_per_sec),
            fmt_rate(o.out_per_sec),
            format!("{:.1} %", o.busy_pct),
            fmt_count(o.in_total as u64),
        ])
    });
    f.render_widget(
        Table::new(op_rows, widths)
            .header(header(&[
                "operator",
                "rows in",
                "rows out",
                "busy",
                "rows in total",
            ]))
            .block(Block::bordered().title("Operators (busy: % of one core)")),
        operators,
    );
    let lines: Vec<Line> = v
        .lines
        .iter()
        .map(|(k, text)| {
            Line::from(vec![
                Span::styled(format!("{k:<11}"), bold),
                Span::raw(text.clone()),
            ])
        })
        .collect();
    f.render_widget(Paragraph::new(lines).block(Block::bordered()), rest);
}

/// `v` drawn on a `width`-column canvas, as plain text lines.
pub(super) fn text(v: &View, width: u16) -> String {
    let height = height(v);
    let mut terminal =
        Terminal::new(TestBackend::new(width, height)).expect("the test backend never fails");
    terminal
        .draw(|f| draw(f, v))
        .expect("the test backend never fails");
    let buf = terminal.backend().buffer();
    let mut out = String::new();
    for y in 0..height {
        let line: String = (0..width).map(|x| buf[(x, y)].symbol()).collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
