/**
 * Edge-case texts for the tokenizer, shared by its oracle (tests/oracle/tokenizer_oracle.ts) and
 * tests: accents, CJK, punctuation, long words, controls and whitespace, empty text, special
 * tokens written in the text. (Astral CJK and unassigned code points are left out: there
 * Hugging Face's JS port departs from BERT's reference, see src/encoders/tokenizer.ts.)
 *
 * @module
 */

/** The texts. */
export const EDGE_CASES: readonly string[] = [
  "",
  "   \n\t  ",
  "Héllo naïve café résumé Ångström ÉCOLE Über façade",
  "İzmir Σίσυφος ΣΑΣ пневмония",
  "胸部X光检查正常 レントゲン 흉부 사진",
  "a.b,c;d:e!f?g(h)[i]{j}\"k'l-m_n/o\\p@q#r$s%t^u&v*w+x=y<z>|~`",
  "«quoted» — em–dash … ¿¡ ‘single’ “double” §2 ¶ •",
  "1.5 cm, 2x3mm, 10/12/2014, T8-T9, 45°",
  "a".repeat(100),
  "b".repeat(101),
  "pneumonoultramicroscopicsilicovolcanoconiosis",
  "tab\there\nnew\rline\u0000nul\u200bzero\ufeffwidth\u00a0nbsp\u3000ideographic\u2028sep",
  "[CLS] inline [SEP] and [MASK], [unk] [PAD]x",
  "XXXX-XXXX XXXX. xxxx",
  "😀 smile ☺ ✓",
];
