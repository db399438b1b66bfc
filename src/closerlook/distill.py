"""Knowledge distillation (Hinton, Vinyals & Dean 2015, "Distilling the knowledge in a
neural network").

The student learns from the labels and from the teacher's *soft targets*, the teacher's
class probabilities at temperature T, p_T = softmax(z_teacher / T):

    L = (1 − α) · CE(y, softmax(z_student)) + α · T² · KL(p_T(teacher) ‖ p_T(student))

The T² keeps the soft term's gradients on the scale of the hard term's as T changes
(the gradient of the KL term with respect to the student's logits is
(p_T(student) − p_T(teacher)) / T). Defaults: T = 4, α = 0.9.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

TEMPERATURE = 4.0
ALPHA = 0.9


def soft_targets(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """softmax(z / T): class probabilities softened by the temperature."""
    return F.softmax(logits / temperature, dim=1)


def soft_kl(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float
) -> torch.Tensor:
    """KL(p_T(teacher) ‖ p_T(student)) = Σ_c p_t,c (log p_t,c − log p_s,c), batch mean."""
    log_p_student = F.log_softmax(student_logits / temperature, dim=1)
    log_p_teacher = F.log_softmax(teacher_logits / temperature, dim=1)
    return F.kl_div(log_p_student, log_p_teacher, reduction="batchmean", log_target=True)


def distillation_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    labels: torch.Tensor,
    temperature: float = TEMPERATURE,
    alpha: float = ALPHA,
) -> torch.Tensor:
    """(1 − α)·CE(labels) + α·T²·KL(teacher_T ‖ student_T); α = 0 is plain cross-entropy."""
    hard = F.cross_entropy(student_logits, labels)
    if alpha == 0:
        return hard
    soft = soft_kl(student_logits, teacher_logits.detach(), temperature)
    return (1 - alpha) * hard + alpha * temperature**2 * soft
